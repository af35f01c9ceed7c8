"""The synthetic bundle the chain and contract tests share: beats at 120 qpm (a module may define its own)."""

from __future__ import annotations

import pytest

from plugin_core.bundle.load import load_bundle
from tests.bundles import make_synthetic_bundle


@pytest.fixture(scope="module")
def bundle_path(tmp_path_factory):
    return make_synthetic_bundle(tmp_path_factory.mktemp("stream"), segmentation={"strategy": "beats", "bpm": 120.0})


@pytest.fixture(scope="module")
def bundle(bundle_path):
    return load_bundle(bundle_path)
