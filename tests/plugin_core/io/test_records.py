"""One schema-version check for every record countertrack writes: a version that is not a whole
number, or newer than this countertrack reads, is one error naming the record and the file."""

from __future__ import annotations

import json

import pytest

from plugin_core.bundle.manifest import BUNDLE_FORMAT, parse_manifest
from plugin_core.errors import BundleError, CountertrackError
from plugin_core.io.corpus import load_corpus
from plugin_core.io.records import checked_schema_version
from plugin_core.perception.labeller import PerceptionSpec

BAD_VERSIONS = ["2", 1.5, True, 0, None, 99]


@pytest.mark.parametrize("version", BAD_VERSIONS)
def test_a_bad_or_newer_schema_version_is_one_error_naming_the_record(version):
    with pytest.raises(BundleError, match=r"^here: thing schema version"):
        checked_schema_version(version, 3, "thing", "here", error=BundleError)


@pytest.mark.parametrize("version", BAD_VERSIONS)
def test_every_reader_refuses_it_with_its_own_error(tmp_path, version):
    with pytest.raises(BundleError, match="bundle schema version"):
        parse_manifest({"format": BUNDLE_FORMAT, "schema_version": version}, tmp_path / "manifest.json")
    with pytest.raises(BundleError, match="perception settings schema version"):
        PerceptionSpec.from_dict({"schema_version": version})
    (tmp_path / "corpus.json").write_text(json.dumps({"kind": "countertrack-corpus", "schema_version": version}))
    with pytest.raises(CountertrackError, match="corpus schema version"):
        load_corpus(tmp_path)


def test_the_versions_it_reads_pass():
    assert [checked_schema_version(v, 3, "thing") for v in (1, 2, 3)] == [1, 2, 3]
