"""Shared fixtures: synthesized tones and a small chorale corpus rendered once per session."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from plugin_core.io.audio import write_audio
from plugin_core.perception.segmentation import SegmentationConfig

# Fixtures that render with FluidSynth, train or load a model: a test that uses one is end to end,
# and marked slow here so `pytest -m "not slow"` is the quick runtime loop (synthetic bundles, tones).
END_TO_END_FIXTURES = frozenset(
    {
        "chorale_corpus",
        "tiny_run",
        "tiny_bundle",
        "click_bundle",
        "tiny_wav2vec2",
        "spectral_perception",
        "trained_context_model",
        "renders",
        "default_bundles",
    }
)
# Whole modules that run real servers, clusters, package builds or the benchmark scripts.
END_TO_END_MODULES = ("benchmarks/", "host_scripts/live/test_jack.py", "plugin_core/render/test_ray_batch.py", "test_wheel.py")
TESTS = Path(__file__).resolve().parent


# pytest-xdist is a dev extra, not a need: with it the suite runs on every core (-n auto), a module that
# runs servers, clusters or builds in one worker (--dist loadgroup, see pytest_collection_modifyitems); without it (or with
# -p no:xdist) it runs in one process. A -n given by the user (-n0: one process) is left as it is.
# Set here rather than in addopts, which pytest rejects when xdist is not there ("unrecognized
# arguments: -n"); pytest_load_initial_conftests would be the place for arguments, but pytest does
# not call it for conftest files, so these are the parsed options, set before xdist reads them.
XDIST_DEFAULT = "countertrack_default_dist"  # workerinput key: the dist the controller chose here


@pytest.hookimpl(wrapper=True)
def pytest_cmdline_main(config: pytest.Config):
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:  # a worker: xdist set its loadgroup from its own arguments, which lack ours
        if workerinput.get(XDIST_DEFAULT) == "loadgroup":
            config.option.loadgroup = True  # its test ids carry their group, which the controller deals by
        # Each worker's share of the cores for torch/OpenMP (read when torch is first imported, below in
        # pytest_configure, and inherited by the commands tests run): two workers of two threads each on
        # two cores made the quick suite 25 % slower, and single torch tests up to 8x.
        os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // int(workerinput.get("workercount", 1)))))
    elif config.pluginmanager.hasplugin("xdist") and config.getoption("numprocesses", None) is None:
        config.option.numprocesses = "auto"  # xdist's own pytest_cmdline_main, run inside this wrapper, reads it
        if config.getoption("dist") == "no":
            config.option.dist = "loadgroup"
            config.stash[_DEFAULT_DIST] = "loadgroup"
    return (yield)


_DEFAULT_DIST = pytest.StashKey[str]()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """xdist's hook, in the controller as it starts each worker: tell it the dist chosen above."""
    if _DEFAULT_DIST in node.config.stash:
        node.workerinput[XDIST_DEFAULT] = node.config.stash[_DEFAULT_DIST]


def pytest_configure(config: pytest.Config) -> None:
    cache = getattr(config, "cache", None)  # absent with -p no:cacheprovider: each process builds its own
    if cache is not None:
        from tests.bundles import share_builds_in

        share_builds_in(cache.mkdir("synthetic-bundles"))


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the xdist_group marks added here
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # a real-time test goes last and in no group: xdist deals groups first (the largest first) and single
    # tests in their order, so it starts when the other workers are on their last tests, not beside them
    items.sort(key=lambda item: item.get_closest_marker("realtime") is not None)
    for item in items:
        module = Path(str(item.fspath)).resolve().relative_to(TESTS).as_posix()
        if item.get_closest_marker("realtime") is not None:
            item.add_marker(pytest.mark.slow)
        elif module.startswith(END_TO_END_MODULES):
            item.add_marker(pytest.mark.slow)
            # with pytest-xdist's --dist loadgroup: such a module runs in one worker, so its module
            # fixtures (a cluster, a built wheel, a JACK server) are made once and never twice at the same
            # time; other slow tests are dealt out one by one, which keeps both cores busy
            item.add_marker(pytest.mark.xdist_group(module))
        elif END_TO_END_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def tone(freq_hz: float, seconds: float, sample_rate: int = 44100, amplitude: float = 0.3, channels: int = 1) -> np.ndarray:
    """A sine tone shaped (channels, samples), with 5 ms fades so it starts and ends without a click."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    signal = amplitude * np.sin(2 * np.pi * freq_hz * t)
    fade = min(int(0.005 * sample_rate), signal.size // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        signal[:fade] *= ramp
        signal[-fade:] *= ramp[::-1]
    return np.repeat(signal[None, :], channels, axis=0).astype(np.float32)


def write_tone(path: Path, freq_hz: float, seconds: float, sample_rate: int = 44100, **kwargs) -> Path:
    write_audio(path, tone(freq_hz, seconds, sample_rate, **kwargs), sample_rate)
    return path


@pytest.fixture(scope="session")
def chorale_corpus(tmp_path_factory) -> Path:
    """Five Bach chorales from music21's corpus, soprano (flute) -> bass (acoustic bass)."""
    from export.data.score_corpus import ScoreCorpusRequest, build_from_scores, music21_works

    out = tmp_path_factory.mktemp("chorales")
    request = ScoreCorpusRequest(sources=tuple(music21_works("bach")), guide_parts=("soprano",), response_parts=("bass",), limit=5)
    build_from_scores(request, out)
    return out


@pytest.fixture(scope="session")
def tiny_wav2vec2(tmp_path_factory) -> Path:
    """A tiny random Wav2Vec2 saved with save_pretrained, loaded back offline by path."""
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    folder = tmp_path_factory.mktemp("w2v-tiny")
    config = Wav2Vec2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(16,) * 7,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
    )
    torch.manual_seed(0)
    Wav2Vec2Model(config).save_pretrained(folder)
    return folder


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Keep the caches of the test session out of the user's home."""
    from plugin_core.io.cache import cache_at

    with cache_at(tmp_path_factory.mktemp("cache")):
        yield


TINY_TRAINING = dict(
    segmentation=SegmentationConfig(
        "uniform", hop_s=0.5
    ).to_dict(),  # a stream needs no tempo: the runtime tests run these bundles block by block
    sequence_length=64,
    vocab=8,
    d_model=32,
    heads=2,
    layers=1,
    ffn=64,
    context=8,
    lookahead=1,
    batch_size=8,
    epochs=3,
    patience=10,
    history_dropout=0.5,  # one run: "auto" (two candidates) has its own test
)
# the same model sizes as `countertrack train` options (the segmentation left to each test)
TINY_TRAINING_ARGS = ["--history-dropout", "0.5", "--vocab", "8", "--d-model", "32", "--layers", "1", "--heads", "2"]
TINY_TRAINING_ARGS += ["--context", "8", "--lookahead", "1", "--batch-size", "8"]


@pytest.fixture(scope="session")
def tiny_run(chorale_corpus, tmp_path_factory):
    """A tiny run trained for a few epochs on the rendered chorales (quality is not the point)."""
    from export.train.run import TrainConfig, train

    folder = tmp_path_factory.mktemp("tiny-run")
    return train(TrainConfig(corpus=str(chorale_corpus), **TINY_TRAINING), folder, log=lambda _: None)


@pytest.fixture(scope="session")
def tiny_bundle(tiny_run, tmp_path_factory) -> Path:
    """The tiny run exported with 40 s of the training bass tracks as memory."""
    from export.onnx.bundle_export import export_bundle

    out = tmp_path_factory.mktemp("bundles") / "tiny.ctbundle"
    export_bundle(tiny_run, out, memory_limit_s=40.0, make_zip=True, log=lambda _: None)
    return out


@pytest.fixture(scope="session")
def click_bundle(tiny_run, tmp_path_factory) -> Path:
    """The tiny run with a memory whose every 0.5 s grain starts with a full-scale click, so the
    start of each played grain can be found in the output to the sample."""
    from export.onnx.bundle_export import export_bundle

    folder = tmp_path_factory.mktemp("click-memory")
    rate = 44100
    memory = np.zeros((1, rate * 20), dtype=np.float32)
    grain = rate // 2
    t = np.arange(grain) / rate
    for index, start in enumerate(range(0, memory.shape[1], grain)):
        memory[0, start : start + grain] = 0.05 * np.sin(2 * np.pi * (110 + 20 * (index % 7)) * t)
        memory[0, start] = 1.0
    write_audio(folder / "clicks.wav", memory, rate, subtype="PCM_16")
    out = tmp_path_factory.mktemp("bundles") / "clicks.ctbundle"
    export_bundle(tiny_run, out, memory=[str(folder / "clicks.wav")], log=lambda _: None)
    return out


@pytest.fixture(scope="session")
def synthetic_bundle(tmp_path_factory) -> Path:
    """A real bundle built in seconds without training (``tests.bundles``): crafted-bundle tests copy it."""
    from tests.bundles import make_synthetic_bundle

    return make_synthetic_bundle(tmp_path_factory.mktemp("synthetic"))
