"""Trust in bundles (issue 12 §2), through ``countertrack render``: nothing in a bundle is used before it
is checked. Every file the manifest names is listed and hashed; no link leads out; each graph's
tensors, every manifest number and every grain-table value are checked at load; bad tokens are caught
at run time; the memory cannot change under a render. Each crafted bundle keeps its hashes
consistent, so the crafted content is what gets refused, with one line naming the bundle's file, exit
1, an existing output (asked to be replaced with --force) untouched and no stray file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import plugin_core.render.offline
from plugin_core.bundle.load import load_bundle
from plugin_core.io.audio import write_audio
from tests.conftest import tone
from tests.crafted import (
    Unchanged,
    add_to_output,
    assert_one_line,
    cli,
    copy_bundle,
    edit_grains,
    edit_graph,
    edit_manifest,
    flip_byte,
    manifest_of,
    memory_samples,
    rehash,
    rename_tensor,
    replace_memory_audio,
    unlist,
    wav_bytes,
    widen_output,
    widen_output_by_input,
)
from tests.paths import ROOT


def _symlink_memory_out(bundle: Path, outside: Path) -> None:
    outside.write_bytes((bundle / "memory" / "memory.wav").read_bytes())
    (bundle / "memory" / "memory.wav").unlink()
    (bundle / "memory" / "memory.wav").symlink_to(outside)


def _symlink_memory_folder_out(bundle: Path, outside: Path) -> None:
    (bundle / "memory").rename(outside)
    (bundle / "memory").symlink_to(outside, target_is_directory=True)


def _fifo_memory(bundle: Path) -> None:
    (bundle / "memory" / "memory.wav").unlink()
    os.mkfifo(bundle / "memory" / "memory.wav")


def _external_outside(bundle: Path) -> None:
    """The encoder's weights in a file it names outside the bundle (the file exists there)."""

    def change(model) -> None:
        from onnx import external_data_helper, numpy_helper

        tensor = next(t for t in model.graph.initializer if numpy_helper.to_array(t).size > 4)
        external_data_helper.set_external_data(tensor, location="../weights.data")
        tensor.data_location = 1

    raw = b"\0" * 1024
    (bundle.parent / "weights.data").write_bytes(raw)
    edit_graph(bundle, "encoder.onnx", change)


def _memory_data_past_the_end(bundle: Path) -> None:
    samples, rate = memory_samples(bundle)
    data = wav_bytes(samples, rate)
    replace_memory_audio(bundle, data[:-1000])  # the header still declares the whole data


def _float_memory_with_nan(bundle: Path) -> None:
    samples, rate = memory_samples(bundle)
    samples = samples.copy()
    samples[:, ::1000] = np.nan
    replace_memory_audio(bundle, wav_bytes(samples, rate, format_tag=3, bits=32))


def _codebook(bundle: Path, name: str, **arrays) -> None:
    with np.load(bundle / name) as data:
        current = {key: data[key] for key in data.files}
    current.update(arrays)
    with open(bundle / name, "wb") as handle:
        np.savez(handle, **current)
    rehash(bundle, [name])


def _first(key: str, value):
    def change(table: dict) -> None:
        table[key][0] = value

    return change


def _spec(section: str, key: str, value):
    def change(manifest: dict) -> None:
        manifest[section]["spec"][key] = value

    return lambda bundle: edit_manifest(bundle, change)


def _set(path: tuple[str, ...], value):
    def change(manifest: dict) -> None:
        node = manifest
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return lambda bundle: edit_manifest(bundle, change)


def _both_renamed(bundle: Path) -> None:
    edit_graph(bundle, "decision.onnx", lambda m: rename_tensor(m, "a_new", "a_fresh"))
    edit_manifest(bundle, lambda m: next(i for i in m["decision"]["inputs"] if i["name"] == "a_new").update(name="a_fresh"))


# name -> (change(bundle), what the one line must say)
CASES = {
    # every file the manifest names is listed, so it is hashed
    "unlisted-decision-graph-with-a-flipped-byte": (
        lambda b: (unlist(b, "decision.onnx"), flip_byte(b / "decision.onnx")),
        "manifest names decision.onnx (decision graph) but does not list it",
    ),
    "unlisted-perception-graph": (lambda b: unlist(b, "encoder.onnx"), "encoder.onnx (perception graph)"),
    "unlisted-memory-audio": (lambda b: unlist(b, "memory/memory.wav"), "memory/memory.wav (memory audio)"),
    "unlisted-grain-table": (lambda b: unlist(b, "memory/grains.json"), "memory/grains.json (memory grain table)"),
    "unlisted-response-codebook": (lambda b: unlist(b, "codebook_response.npz"), "codebook_response.npz (response codebook)"),
    "unlisted-compatibility": (lambda b: unlist(b, "compatibility.npz"), "compatibility.npz (compatibility)"),
    "memory-audio-outside-the-memory-folder": (_set(("memory", "audio"), "encoder.onnx"), "is not in the memory folder"),
    "unlisted-external-weights": (
        lambda b: (edit_graph(b, "encoder.onnx", lambda m: None, external="encoder.onnx.data"), unlist(b, "encoder.onnx.data")),
        "keeps weights in encoder.onnx.data, which the manifest does not list",
    ),
    "external-weights-outside-the-bundle": (_external_outside, "outside the bundle"),
    # links and special files
    "memory-a-link-leading-outside": (lambda b: _symlink_memory_out(b, b.parent / "elsewhere.wav"), "leads outside the bundle"),
    "memory-folder-a-link-leading-outside": (lambda b: _symlink_memory_folder_out(b, b.parent / "elsewhere"), "leads outside the bundle"),
    "memory-a-fifo": (_fifo_memory, "memory/memory.wav is not a regular file"),
    # each graph's tensors against the manifest, at load and at run time
    "decision-input-renamed-in-the-graph": (
        lambda b: edit_graph(b, "decision.onnx", lambda m: rename_tensor(m, "a_new", "a_fresh")),
        "decision.onnx: the graph's inputs are",
    ),
    "decision-input-renamed-in-graph-and-manifest": (_both_renamed, "decision.inputs are"),
    "decision-logits-of-another-size": (
        lambda b: edit_graph(b, "decision.onnx", lambda m: widen_output(m, "logits", 1)),
        "logits has size 9 on axis 0; its manifest declares 8",
    ),
    "decision-logits-of-another-size-at-run-time": (
        lambda b: edit_graph(b, "decision.onnx", lambda m: widen_output_by_input(m, "logits", "a_new")),
        "decision.onnx: the decision step gave logits shaped (10,)",
    ),
    "encoder-emitting-token-1000": (
        lambda b: edit_graph(b, "encoder.onnx", lambda m: add_to_output(m, "token", 1000)),
        "encoder.onnx: the encoder emitted token 100",
    ),
    # manifest numbers in the ranges the runtime can afford
    "encoder-rate-1e8-hz": (_spec("perception", "sample_rate", 100_000_000), "perception.spec.sample_rate (Hz) 100000000 is out of range"),
    "lookahead-5000": (
        _spec("decision", "lookahead", 5000),
        "decision.spec.lookahead (segments; -1 anticipates) 5000 is out of range -1..7",
    ),
    "context-a-million": (_spec("decision", "context", 10**6), "decision.spec.context 1000000 is out of range"),
    "min-samples-a-billion": (_spec("perception", "min_samples", 10**9), "perception.spec.min_samples 1000000000 is out of range"),
    "lookahead-a-fraction": (_spec("decision", "lookahead", 1.5), "manifest does not follow the bundle schema"),
    "perception-vocabulary-beyond-the-decision": (_spec("perception", "vocab_size", 16), "perception.spec.vocab_size"),
    "special-tokens-elsewhere": (_set(("decision", "special_tokens", "bos"), 3), "special_tokens must be bos 8"),
    "segmentation-names-a-tempo-map": (
        lambda b: edit_manifest(b, lambda m: m["perception"]["spec"]["segmentation"].update(tempo_map="/etc/passwd")),
        "tempo_map must be null in a bundle",
    ),
    "segmentation-hop-zero": (lambda b: edit_manifest(b, lambda m: m["perception"]["spec"]["segmentation"].update(hop_s=0)), "hop_s"),
    "engine-default-nan": (_set(("engine_defaults", "loudness_match"), float("nan")), "engine_defaults/loudness_match is nan"),
    "sampling-default-out-of-range": (_set(("sampling_defaults", "temperature"), 0.0), "temperature 0.0 is out of range"),
    "memory-rate-not-the-wav-rate": (_set(("memory", "sample_rate"), 22050), "the manifest says 1 at 22050 Hz"),
    # grain table values
    "label-1e20": (lambda b: edit_grains(b, _first("label", 1e20)), "label[0] is 1e+20, not a whole number"),
    "label-a-fraction": (lambda b: edit_grains(b, _first("label", 2.5)), "label[0] is 2.5"),
    "label-negative": (lambda b: edit_grains(b, _first("label", -1)), "label[0] is -1"),
    "label-outside-the-vocabulary": (lambda b: edit_grains(b, _first("label", 8)), "holds label 8, outside the vocabulary of 8"),
    "label-true": (lambda b: edit_grains(b, _first("label", True)), "label[0] is True"),
    "loudness-nan": (lambda b: edit_grains(b, _first("loudness_db", float("nan"))), "loudness_db[0] is nan"),
    "loudness-1e9": (lambda b: edit_grains(b, _first("loudness_db", 1e9)), "loudness_db[0] is 1000000000.0"),
    "grain-ends-before-it-starts": (lambda b: edit_grains(b, _first("end", 0)), "grain 0 ends at 0"),
    "grain-past-the-memory": (lambda b: edit_grains(b, _first("end", 10**9)), "points past the end of the memory audio"),
    "grain-of-an-unknown-track": (lambda b: edit_grains(b, _first("track", 99)), "holds track 99; the manifest lists 1"),
    "pitch-classes-misshapen": (lambda b: edit_grains(b, _first("pitch_classes", [0.1] * 11)), "'pitch_classes' is not a table of numbers"),
    "onsets-five-wide": (
        lambda b: edit_grains(b, lambda t: t.update(onsets=[row + [0.0] for row in t["onsets"]])),
        "'onsets' is not a table",
    ),
    "no-grain": (lambda b: edit_grains(b, lambda t: [t[k].clear() for k in t]), "grain table holds no grain"),
    "columns-of-unequal-length": (lambda b: edit_grains(b, lambda t: t["label"].pop()), "column 'label' has"),
    "grain-table-a-list": (lambda b: edit_grains(b, lambda t: None, raw=lambda text: "[1, 2, 3]"), "not a JSON object of columns"),
    # the memory audio's header against itself, the file and the manifest
    "memory-fmt-chunk-of-4-bytes": (lambda b: replace_memory_audio(b, wav_bytes(*memory_samples(b), fmt_size=4)), "4-byte format chunk"),
    "memory-of-0-channels": (lambda b: replace_memory_audio(b, wav_bytes(*memory_samples(b), channels=0)), "has 0 channels"),
    "memory-at-0-hz": (lambda b: replace_memory_audio(b, wav_bytes(memory_samples(b)[0], 0)), "is at 0 Hz"),
    "memory-shorter-than-its-header": (_memory_data_past_the_end, "memory/memory.wav: memory audio is shorter than its header says"),
    "memory-of-8-bits": (lambda b: replace_memory_audio(b, wav_bytes(memory_samples(b)[0], 44100, bits=8)), "16-bit PCM or 32-bit float"),
    "memory-stereo-manifest-mono": (
        lambda b: replace_memory_audio(b, wav_bytes(np.repeat(memory_samples(b)[0], 2, 0), 44100)),
        "memory audio is 2 channel(s) at 44100 Hz; the manifest says 1",
    ),
    "memory-float-with-nan-samples": (_float_memory_with_nan, "memory.wav: memory audio holds a sample that is not a finite number"),
    # codebooks and the compatibility table
    "codebook-of-7-centroids": (
        lambda b: _codebook(b, "codebook_response.npz", centroids=np.zeros((7, 114), np.float32)),
        "codebook_response.npz: holds 7 centroids; the vocabulary is 8",
    ),
    "codebook-with-nan": (
        lambda b: _codebook(b, "codebook_guide.npz", mean=np.full(114, np.nan, np.float32)),
        "mean holds a value that is not",
    ),
    "compatibility-with-inf": (lambda b: _codebook(b, "compatibility.npz", intervals=np.full(12, np.inf, np.float32)), "compatibility.npz"),
    "compatibility-pickled": (
        lambda b: _codebook(b, "compatibility.npz", intervals=np.array([{"x": 1}], dtype=object)),
        "compatibility.npz: not a",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_a_crafted_bundle_with_consistent_hashes_is_one_line_and_changes_nothing(synthetic_bundle, tmp_path, capsys, case):
    bundle = copy_bundle(synthetic_bundle, tmp_path / "b.ctbundle")
    change, fragment = CASES[case]
    change(bundle)
    write_audio(tmp_path / "a.wav", tone(220, 2.0), 44100)
    (tmp_path / "out.wav").write_bytes(b"last week's take")
    before = Unchanged(tmp_path)
    code, err = cli(["render", tmp_path / "a.wav", "--bundle", bundle, "-o", tmp_path / "out.wav", "--force"], capsys)
    assert code == 1, err
    assert_one_line(err, fragment)
    assert str(tmp_path / "b.ctbundle") in err or "b.ctbundle" in err, err  # names the bundle, never the output
    before.check()


def test_a_listed_external_weights_file_is_verified_and_used(synthetic_bundle, tmp_path, capsys):
    """Weights kept beside a graph load when the manifest lists them (their bytes hashed); one changed byte refuses them."""
    bundle = copy_bundle(synthetic_bundle, tmp_path / "b.ctbundle")
    edit_graph(bundle, "encoder.onnx", lambda m: None, external="encoder.onnx.data")
    write_audio(tmp_path / "a.wav", tone(220, 2.0), 44100)
    code, err = cli(["render", tmp_path / "a.wav", "--bundle", bundle, "-o", tmp_path / "out.wav"], capsys)
    assert code == 0, err
    flip_byte(bundle / "encoder.onnx.data")
    code, err = cli(["render", tmp_path / "a.wav", "--bundle", bundle, "-o", tmp_path / "out2.wav"], capsys)
    assert code == 1
    assert_one_line(err, "encoder.onnx.data does not match its sha256")


def _rewrite_memory_in_place(bundle: Path, monkeypatch) -> None:
    """While the render runs (after the bundle was loaded and verified), rewrite memory.wav's samples in
    place with full-scale noise: same size, same inode."""
    real = plugin_core.render.offline.render_audio

    def render_audio(*args, **kwargs):
        path = bundle / "memory" / "memory.wav"
        size = path.stat().st_size
        with open(path, "r+b") as handle:
            handle.seek(44)
            handle.write(np.random.default_rng(0).integers(-32768, 32767, (size - 44) // 2, dtype=np.int16).tobytes())
        return real(*args, **kwargs)

    monkeypatch.setattr(plugin_core.render.offline, "render_audio", render_audio)


@pytest.mark.parametrize("rate", [44100, 48000], ids=["memory-rate", "resampled"])
def test_a_memory_rewritten_during_the_render_is_one_line_not_noise_in_b(synthetic_bundle, tmp_path, capsys, monkeypatch, rate):
    """It used to put full-scale noise into B with exit 0."""
    bundle = copy_bundle(synthetic_bundle, tmp_path / "b.ctbundle")
    write_audio(tmp_path / "a.wav", tone(220, 2.0, rate), rate)
    (tmp_path / "out.wav").write_bytes(b"last week's take")
    monkeypatch.setenv("COUNTERTRACK_CACHE", str(tmp_path / "b.ctbundle.cache"))  # no resampled copy yet: it is made from memory.wav
    _rewrite_memory_in_place(bundle, monkeypatch)
    code, err = cli(["render", tmp_path / "a.wav", "--bundle", bundle, "-o", tmp_path / "out.wav", "--force"], capsys)
    assert code == 1, err
    assert_one_line(err, "memory/memory.wav: memory audio changed during the render")
    assert (tmp_path / "out.wav").read_bytes() == b"last week's take"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.wav",
        "b.ctbundle",
        *(["b.ctbundle.cache"] if rate != 44100 else []),
        "out.wav",
    ]
    assert not [p for p in tmp_path.rglob("*.part*")]


def test_a_memory_replaced_during_the_render_keeps_playing_the_verified_one(synthetic_bundle, tmp_path, capsys, monkeypatch):
    """A new file renamed over memory.wav is a new inode: the open file keeps the verified samples, and B
    is the same as without the change."""
    bundle = copy_bundle(synthetic_bundle, tmp_path / "b.ctbundle")
    write_audio(tmp_path / "a.wav", tone(220, 2.0), 44100)
    assert cli(["render", tmp_path / "a.wav", "--bundle", bundle, "-o", tmp_path / "reference.wav"], capsys)[0] == 0
    real = plugin_core.render.offline.render_audio

    def render_audio(*args, **kwargs):
        noise = bundle / "memory" / "noise.wav"
        noise.write_bytes(wav_bytes(np.random.default_rng(0).uniform(-1, 1, (1, 1058400)), 44100))
        noise.replace(bundle / "memory" / "memory.wav")
        return real(*args, **kwargs)

    monkeypatch.setattr(plugin_core.render.offline, "render_audio", render_audio)
    code, err = cli(["render", tmp_path / "a.wav", "--bundle", bundle, "-o", tmp_path / "out.wav"], capsys)
    assert code == 0, err
    assert (tmp_path / "out.wav").read_bytes() == (tmp_path / "reference.wav").read_bytes()


def test_a_memory_changed_between_verification_and_use_is_refused(synthetic_bundle, tmp_path, monkeypatch):
    """The load checks that every file is still the one it hashed, by inode, size and time."""
    import plugin_core.bundle.load as bundle_module
    from plugin_core.errors import BundleError

    bundle = copy_bundle(synthetic_bundle, tmp_path / "b.ctbundle")
    real = bundle_module.load_memory

    def load_memory(folder, **kwargs):
        path = Path(folder) / "memory.wav"
        path.write_bytes(path.read_bytes())  # same bytes, a new modification time
        return real(folder, **kwargs)

    monkeypatch.setattr(bundle_module, "load_memory", load_memory)
    with pytest.raises(BundleError, match="memory audio changed after it was verified"):
        load_bundle(bundle)


def test_the_checks_accept_the_shipped_and_a_fresh_bundle(synthetic_bundle):
    """What the checks refuse is what is wrong: the bundles export writes, and the shipped one, load."""
    for path in (synthetic_bundle, ROOT / "presets" / "default.ctbundle"):
        bundle = load_bundle(path)
        assert bundle.memory.frames > 0
    assert set(manifest_of(synthetic_bundle)["sizes"]) == set(manifest_of(synthetic_bundle)["files"])
    assert json.loads((synthetic_bundle / "manifest.json").read_text())["files"]
