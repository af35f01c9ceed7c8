"""A second implementation of the bundle contract (tests/reference_host.py, following
docs/bundle-format.md, importing nothing of countertrack) decides what the runtime decides: the
shipped bundle's golden vector, and the runtime's own renders at other rates, channel layouts,
seeds and tempi. Where the two disagree, the document or the runtime is wrong."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from plugin_core.bundle.load import load_bundle
from plugin_core.io.audio import read_audio, resample
from plugin_core.perception.segmentation import SegmentationConfig
from plugin_core.render.offline import render_audio
from tests import reference_host
from tests.paths import ROOT

BUNDLE = ROOT / "presets" / "default.ctbundle"
DECIDED = ("a_tokens", "b_tokens", "played_labels", "grains", "continued")


# the golden input at its own 44.1 kHz (quick), and at 48 kHz (resampled first; end to end)
CASES = ("expected.json", pytest.param("expected-48000.json", marks=pytest.mark.slow))


@pytest.mark.parametrize("case", CASES)
def test_the_reference_host_imports_nothing_of_countertrack_and_reproduces_the_golden_answer(case):
    """From the document alone (numpy, onnxruntime, the standard library): the golden vector's
    decisions, and B equal to the stored golden/output*.wav, bit for bit."""
    code = (
        "import json, sys; from pathlib import Path; import numpy as np; from tests.reference_host import render_golden, read_wav; "
        "decided, b = render_golden(Path(sys.argv[1]), sys.argv[2]); "
        "stored = read_wav(Path(sys.argv[1]) / json.loads((Path(sys.argv[1]) / 'golden' / sys.argv[2]).read_text())['output'])[0]; "
        "decided['same_b'] = bool(b.shape == stored.shape and np.array_equal(b.view(np.uint32), stored.view(np.uint32))); "
        "decided['b_sum'] = float(abs(b).sum()); "
        "decided['foreign'] = sorted({m.split('.')[0] for m in sys.modules} & {'plugin_core', 'export', 'host_scripts', 'pedalboard', "
        "'soundfile', 'scipy', 'torch', 'librosa'}); "
        "decided.pop('intermediates'); print(json.dumps(decided))"
    )
    result = subprocess.run([sys.executable, "-c", code, str(BUNDLE), case], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    decided = json.loads(result.stdout)
    expected = json.loads((BUNDLE / "golden" / case).read_text())
    assert decided["foreign"] == []
    assert {key: decided[key] for key in DECIDED} == {key: expected[key] for key in DECIDED}
    assert decided["same_b"], "B differs from the stored golden output"
    assert decided["b_sum"] > 100.0  # it laid an answer, not silence


@pytest.mark.parametrize("case", CASES)
def test_the_golden_answer_stretches_grains_and_is_what_the_runtime_renders(case):
    """The stored output is the runtime's render (so the port above matches the runtime), and the
    case exercises what a port must get right: stretched grains and crossfades between jumps."""
    expected = json.loads((BUNDLE / "golden" / case).read_text())
    rendered = render_audio(load_bundle(BUNDLE), read_audio(BUNDLE / expected["input"]), seed=expected["seed"])
    assert [d.ratio < 1.0 for d in rendered.decisions].count(True) >= 2  # the case stretches grains
    assert [d.continued for d in rendered.decisions].count(False) >= 2  # and crossfades between jumps
    stored = read_audio(BUNDLE / expected["output"]).samples
    np.testing.assert_array_equal(rendered.samples, stored)  # and the test above: the reference host's B is the stored one
    boundaries = expected["boundaries"]
    slot_db = [10 * np.log10(np.mean(stored[:, lo:hi].astype(np.float64) ** 2) + 1e-30) for lo, hi in zip(boundaries[:-1], boundaries[1:])]
    np.testing.assert_allclose(slot_db, expected["intermediates"]["slot_rms_db"], atol=1e-3)


@pytest.mark.slow  # where a port went wrong; the quick suite checks the answer itself, above
@pytest.mark.parametrize("case", CASES)
def test_the_golden_intermediates_are_what_a_port_computes_step_by_step(case):
    """Embeddings, levels, descriptors, logits and nuclei: where a port that diverges went wrong."""
    decided = reference_host.decide_golden(BUNDLE, case)["intermediates"]
    vector = json.loads((BUNDLE / "golden" / case).read_text())
    expected = vector["intermediates"]
    # the encoder's input, bit for bit: step 8's resampler as the document states it
    stored, rate, _ = reference_host.read_wav(BUNDLE / vector["encoder_input"]["file"])
    offsets = vector["encoder_input"]["offsets"]
    assert rate == 16000 and len(offsets) == len(decided["encoder_input"]) + 1
    for piece, lo, hi in zip(decided["encoder_input"], offsets[:-1], offsets[1:]):
        np.testing.assert_array_equal(piece, stored[0, lo:hi])
    assert decided["draws"] == expected["draws"]  # the generator and the draw order
    assert sum(len(d) for d in expected["draws"]) > len(expected["draws"])  # continuity draws as well as picks
    segments = len(expected["embeddings"])
    assert segments >= 8 and len(expected["logits"]) == len(expected["nucleus"]) == len(expected["slot_rms_db"]) == segments
    # onnxruntime on one intra-op thread, as step 3 says: the same sums in the same order, but MLAS picks
    # its kernels by the CPU's instruction set, so another CPU may round a sum's last bit differently
    # (5 of 272 logits by one ULP on an AMD EPYC against the machine that stored them): "Exactness"
    _assert_same_but_the_last_bits(decided["embeddings"], expected["embeddings"])
    np.testing.assert_allclose(decided["levels_db"], expected["levels_db"], atol=1e-5)
    for mine, theirs in zip(decided["descriptors"], expected["descriptors"]):
        np.testing.assert_allclose(mine["pitch_classes"], theirs["pitch_classes"], atol=1e-5)
        np.testing.assert_allclose(mine["onsets"], theirs["onsets"], atol=1e-5)
    _assert_same_but_the_last_bits(decided["logits"], expected["logits"])
    for mine, theirs in zip(decided["nucleus"], expected["nucleus"]):
        assert mine["labels"] == theirs["labels"]
        np.testing.assert_allclose(mine["probabilities"], theirs["probabilities"], atol=1e-5)


def _assert_same_but_the_last_bits(mine, stored) -> None:
    """float32 values equal to 1e-6 of the largest (a float32 sum rounded in another order differs by
    about 6e-8 of its size per term): what docs/bundle-format.md promises across CPUs."""
    mine, stored = np.float32(mine), np.float32(stored)
    np.testing.assert_allclose(mine, stored, rtol=0, atol=1e-6 * float(np.abs(stored).max()))


@pytest.fixture(scope="module")
def default_bundles():
    return load_bundle(BUNDLE), reference_host.Bundle.open(BUNDLE)


@pytest.mark.parametrize(
    ("rate", "channels", "seed", "bpm"),
    [(48000, 1, 4, 100.0), (44100, 2, 11, 84.0), (22050, 1, 3, 132.0), (96000, 2, 11, 100.0)],
)
def test_the_reference_host_decides_as_the_runtime_does(default_bundles, rate, channels, seed, bpm, tmp_path):
    runtime_bundle, reference_bundle = default_bundles
    golden = read_audio(BUNDLE / "golden" / "input.wav")
    samples = resample(golden.samples, golden.sample_rate, rate)
    if channels == 2:  # two different channels: the runtime and the port must both hear their mean
        samples = np.concatenate([samples, 0.5 * np.roll(samples, rate // 10, axis=1)])
    path = tmp_path / "a.wav"
    soundfile.write(str(path), samples.T, rate, subtype="FLOAT")
    a = read_audio(path)
    rendered = render_audio(runtime_bundle, a, seed=seed, segmentation=SegmentationConfig("beats", bpm=bpm))
    runtime = {
        "b_tokens": [d.b_token for d in rendered.decisions],
        "grains": [d.grain for d in rendered.decisions],
        "continued": [d.continued for d in rendered.decisions],
    }
    expected = json.loads((BUNDLE / "golden" / "expected.json").read_text())
    audio, _ = soundfile.read(str(path), dtype="float32", always_2d=True)
    reference = reference_host.decide(
        reference_bundle, audio, rate, [int(b) for b in rendered.boundaries], seed, expected["sampling"], expected["engine"]
    )
    assert {key: reference[key] for key in runtime} == runtime
    memory = reference_host.MemoryAudio(BUNDLE / "memory" / "memory.wav", channels, rate)
    laid = reference_host.lay(
        memory,
        reference_bundle.grains,
        reference["grains"],
        reference["continued"],
        [int(x) for x in rendered.boundaries],
        rate,
        expected["engine"],
    )
    np.testing.assert_array_equal(laid, rendered.samples)
    assert sum(runtime["continued"]) >= 1 and len(set(runtime["grains"])) > 5  # the case exercises continuity and choice
