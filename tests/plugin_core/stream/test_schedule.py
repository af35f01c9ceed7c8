"""The latency follows from the whole segmentation: over grids x offsets x analysis windows x rates x
block sizes, a stream never asks for output it has not decided, and it equals the offline render."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from plugin_core.bundle.load import load_bundle
from plugin_core.io.audio import Audio, AudioInfo
from plugin_core.perception.segmentation import SegmentationConfig, make_grid
from plugin_core.render.offline import render_audio
from plugin_core.stream.schedule import Schedule
from plugin_core.stream.sidechain import SidechainEffect
from tests.bundles import make_synthetic_bundle, tone_melody
from tests.grids import pairwise_grid


@pytest.fixture(scope="module")
def bundle_path(tmp_path_factory):
    return make_synthetic_bundle(tmp_path_factory.mktemp("schedule"), lookahead=1)


def _with_segmentation(path, segmentation: SegmentationConfig):
    bundle = load_bundle(path)
    bundle.perception.spec = dataclasses.replace(bundle.perception.spec, segmentation=segmentation)
    return bundle


def _stream(bundle, a: np.ndarray, rate: int, block: int) -> tuple[np.ndarray, int]:
    effect = SidechainEffect(bundle, rate, a.shape[0], seed=3)
    pieces = [effect.process(a[:, i : i + block]) for i in range(0, a.shape[1], block)] + [effect.flush()]
    return np.concatenate(pieces, axis=1), effect.latency_samples


SEGMENTATIONS = [
    SegmentationConfig("uniform", hop_s=0.5),
    SegmentationConfig("uniform", hop_s=0.5, window_s=0.2),
    SegmentationConfig("uniform", hop_s=0.5, window_s=4.0),  # the window longer than the hop: 8 segments of look-ahead
    SegmentationConfig("uniform", hop_s=0.25, window_s=0.75),
    SegmentationConfig("beats", bpm=97.0),
    SegmentationConfig("beats", bpm=150.0, offset_s=0.13, subdivision=2),
    SegmentationConfig("beats", bpm=80.0, offset_s=0.4, window_s=1.5),
]


@pytest.mark.parametrize(
    *pairwise_grid(
        segmentation=SEGMENTATIONS,
        rate=[22050, 48000],
        block=[64, 4097],
        ids={"segmentation": lambda s: f"{s.strategy}-{s.hop_s if s.strategy == 'uniform' else s.bpm}-w{s.window_s}-o{s.offset_s}"},
    )
)
def test_stream_equals_offline_for_every_segmentation(bundle_path, segmentation, rate, block):
    bundle = _with_segmentation(bundle_path, segmentation)
    a = tone_melody(7.3, 111.0, rate, seed=5)
    streamed, latency = _stream(bundle, a, rate, block)
    offline = render_audio(bundle, Audio(a, rate, AudioInfo("a.wav", rate, 1, a.shape[1], "FLOAT")), seed=3).samples
    assert streamed.shape[1] == a.shape[1] + latency
    np.testing.assert_array_equal(streamed[:, latency:], offline)


def test_a_first_beat_past_the_usual_horizon_is_waited_for(bundle_path):
    """A first beat at 3 s of a 400 qpm grid (beats of 0.15 s): the segment before it is the longest, and
    the stream must wait for it; a horizon of a few beats missed it and the stream asked for output it
    had not decided (an internal error)."""
    rate = 22050
    bundle = _with_segmentation(bundle_path, SegmentationConfig("beats", bpm=400.0, offset_s=3.0))
    a = tone_melody(5.0, 400.0, rate, seed=2)
    streamed, latency = _stream(bundle, a, rate, 512)
    assert latency >= 3.0 * rate
    offline = render_audio(bundle, Audio(a, rate, AudioInfo("a.wav", rate, 1, a.shape[1], "FLOAT")), seed=3).samples
    np.testing.assert_array_equal(streamed[:, latency:], offline)


def test_latency_covers_the_analysis_window():
    rate = 48000
    short = Schedule.plan(None, SegmentationConfig("uniform", hop_s=0.5), rate, lead=2, window_samples=None, crossfade_samples=1920)
    long = Schedule.plan(
        None, SegmentationConfig("uniform", hop_s=0.5, window_s=4.0), rate, lead=2, window_samples=4 * rate, crossfade_samples=1920
    )
    # segment i+2 is labelled once 4 s from its start are in: 2 hops + 4 s, and a crossfade before the slot
    assert long.latency_samples == int(2 * 0.5 * rate + 4 * rate + 1920)
    # without the window it waits for its end to be final instead: a hop and half a hop of margin
    assert short.latency_samples == int(2 * 0.5 * rate + 0.5 * rate + (0.25 * rate + 1) + 1920)


@pytest.mark.parametrize("rate", [22050, 44100, 96000])
def test_offline_latency_is_the_largest_wait_of_the_grid(rate):
    grid = make_grid(rate * 5, rate, SegmentationConfig("beats", bpm=90.0, offset_s=0.3))
    plan = Schedule.plan(grid, SegmentationConfig("beats", bpm=90.0, offset_s=0.3), rate, lead=1, window_samples=None, crossfade_samples=0)
    # the last slot is decided when A ends: its wait is the whole last segment plus one sample
    assert plan.latency_samples == int(max(grid[-1] + 1 - grid[-2], np.max(grid[2:] - grid[:-2])))
