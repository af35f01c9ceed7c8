"""Crafted bundles and inputs for the reliability tests: copies of a real bundle with one thing changed
and every hash kept consistent (so the change itself is what gets checked, not the hash), hand-made
WAV headers, edited ONNX graphs, lying zip entries and MIDI files. Plain helpers, no fixtures.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import signal
import struct
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mido
import numpy as np

from host_scripts.cli import main
from tests.disk import entries, snapshot


# ---- the command line --------------------------------------------------------------------------
def cli(argv: list[Any], capsys) -> tuple[int, str]:
    """Run ``countertrack ARGV`` in this process: (exit code, stderr stripped)."""
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err.strip()


def assert_one_line(err: str, *fragments: str, prefix: str = "countertrack") -> None:
    """``err`` is one line, an error of ours, holding every fragment."""
    assert err.count("\n") == 0 and err.startswith(prefix) and "error: " in err, err
    assert "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err


class Unchanged:
    """Snapshot a folder (every file's bytes and every name) and check that nothing changed or appeared."""

    def __init__(self, folder: Path):
        self.folder, self.files, self.names = folder, snapshot(folder), entries(folder)

    def check(self, *allowed_new: str) -> None:
        after = entries(self.folder)
        stray = [name for name in after if name not in self.names and not any(name == a or name.startswith(a + "/") for a in allowed_new)]
        assert not stray, f"stray files: {stray}"
        assert [name for name in self.names if name not in after] == [], "files disappeared"
        now = snapshot(self.folder)
        assert {k: v for k, v in now.items() if k in self.files} == self.files, "a file changed"


# ---- bundles -----------------------------------------------------------------------------------
def copy_bundle(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, symlinks=True)
    return target


def manifest_of(bundle: Path) -> dict:
    return json.loads((bundle / "manifest.json").read_text())


def write_manifest(bundle: Path, manifest: dict) -> None:
    (bundle / "manifest.json").write_text(json.dumps(manifest, indent=1))


def rehash(bundle: Path, names: list[str] | None = None) -> None:
    """Record the current sha256 and size of ``names`` (default: every listed file that exists)."""
    manifest = manifest_of(bundle)
    for name in names if names is not None else list(manifest["files"]):
        path = bundle / name
        if path.is_file():
            manifest["files"][name] = hashlib.sha256(path.read_bytes()).hexdigest()
            manifest.setdefault("sizes", {})[name] = path.stat().st_size
    write_manifest(bundle, manifest)


def edit_manifest(bundle: Path, change: Callable[[dict], None]) -> None:
    manifest = manifest_of(bundle)
    change(manifest)
    write_manifest(bundle, manifest)


def edit_grains(bundle: Path, change: Callable[[dict], None], *, raw: Callable[[str], str] | None = None) -> None:
    """Change the grain table (the parsed columns, then optionally its text) and rehash it."""
    path = bundle / "memory" / "grains.json"
    table = json.loads(path.read_text())
    change(table)
    text = json.dumps(table)
    path.write_text(raw(text) if raw else text)
    rehash(bundle, ["memory/grains.json"])


def unlist(bundle: Path, name: str) -> None:
    """Take ``name`` out of the manifest's list (it stays on disk)."""

    def change(manifest: dict) -> None:
        manifest["files"].pop(name)
        manifest.get("sizes", {}).pop(name, None)

    edit_manifest(bundle, change)


def flip_byte(path: Path, at: float = 0.5) -> None:
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0x01
    path.write_bytes(bytes(data))


def wav_bytes(
    samples: np.ndarray,
    rate: int,
    *,
    fmt_size: int = 16,
    format_tag: int = 1,
    bits: int = 16,
    channels: int | None = None,
    declared_data: int | None = None,
) -> bytes:
    """A WAV file byte by byte, every header field free to lie."""
    channels = samples.shape[0] if channels is None else channels
    data = (
        (np.clip(samples.T, -1, 1) * 32767).astype("<i2").tobytes() if bits == 16 and format_tag == 1 else samples.T.astype("<f4").tobytes()
    )
    block = max(1, channels) * bits // 8
    body = struct.pack("<HHIIHH", format_tag, channels, rate, rate * block, block, bits)
    body = (body + bytes(max(0, fmt_size - 16)))[:fmt_size]
    chunks = b"fmt " + struct.pack("<I", fmt_size) + body + (b"\0" if fmt_size & 1 else b"")
    chunks += b"data" + struct.pack("<I", len(data) if declared_data is None else declared_data) + data
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def replace_memory_audio(bundle: Path, data: bytes) -> None:
    (bundle / "memory" / "memory.wav").write_bytes(data)
    rehash(bundle, ["memory/memory.wav"])


def memory_samples(bundle: Path) -> tuple[np.ndarray, int]:
    import soundfile

    samples, rate = soundfile.read(bundle / "memory" / "memory.wav", dtype="float32", always_2d=True)
    return samples.T, rate


# ---- graphs ------------------------------------------------------------------------------------
def edit_graph(bundle: Path, name: str, change: Callable[[Any], None], *, external: str | None = None) -> None:
    """Edit an ONNX graph of the bundle with the ``onnx`` package and rehash it (``external``: save its
    weights to that file beside it, listed too)."""
    import onnx

    model = onnx.load(str(bundle / name))
    change(model)
    if external:
        onnx.save_model(
            model, str(bundle / name), save_as_external_data=True, all_tensors_to_one_file=True, location=external, size_threshold=0
        )
        manifest = manifest_of(bundle)
        manifest["files"][external] = ""
        write_manifest(bundle, manifest)
    else:
        (bundle / name).write_bytes(model.SerializeToString())  # as edited: onnx.save would refuse a location we craft
    rehash(bundle)


def rename_tensor(model: Any, old: str, new: str) -> None:
    """Rename a graph input or output everywhere it is used."""
    graph = model.graph
    for value in [*graph.input, *graph.output]:
        if value.name == old:
            value.name = new
    for node in graph.node:
        node.input[:] = [new if n == old else n for n in node.input]
        node.output[:] = [new if n == old else n for n in node.output]


def add_to_output(model: Any, output: str, amount: int, dtype: str = "int64") -> None:
    """Make the graph's ``output`` come out ``amount`` larger (``token`` + 1000: a token outside the vocabulary)."""
    from onnx import TensorProto, helper

    rename_tensor(model, output, output + "_raw")
    for value in model.graph.output:
        if value.name == output + "_raw":
            value.name = output
    kind = TensorProto.INT64 if dtype == "int64" else TensorProto.FLOAT
    model.graph.node.extend(
        [
            helper.make_node("Constant", [], [output + "_amount"], value=helper.make_tensor("a", kind, [], [amount])),
            helper.make_node("Add", [output + "_raw", output + "_amount"], [output]),
        ]
    )
    _producers_first(model)


def widen_output(model: Any, output: str, extra: int) -> None:
    """Append ``extra`` zeros to a 1-D float output (logits of another vocabulary size), declared as such."""
    from onnx import TensorProto, helper

    rename_tensor(model, output, output + "_raw")
    for value in model.graph.output:
        if value.name == output + "_raw":
            value.name = output
            dims = value.type.tensor_type.shape.dim
            if dims and dims[0].HasField("dim_value"):
                dims[0].dim_value += extra
    model.graph.node.extend(
        [
            helper.make_node("Constant", [], [output + "_pad"], value=helper.make_tensor("p", TensorProto.FLOAT, [extra], [0.0] * extra)),
            helper.make_node("Concat", [output + "_raw", output + "_pad"], [output], axis=0),
        ]
    )
    _producers_first(model)


def widen_output_by_input(model: Any, output: str, like: str) -> None:
    """Append as many zeros to a 1-D float output as the 1-D input ``like`` has entries: a size no
    static shape shows (onnxruntime reports it symbolic), only the run does."""
    from onnx import TensorProto, helper

    rename_tensor(model, output, output + "_raw")
    for value in model.graph.output:
        if value.name == output + "_raw":
            value.name = output
            value.type.tensor_type.shape.dim[0].dim_param = "grown"
    model.graph.node.extend(
        [
            helper.make_node("Shape", [like], [output + "_shape"]),
            helper.make_node(
                "ConstantOfShape", [output + "_shape"], [output + "_pad"], value=helper.make_tensor("z", TensorProto.FLOAT, [1], [0.0])
            ),
            helper.make_node("Concat", [output + "_raw", output + "_pad"], [output], axis=0),
        ]
    )


def _producers_first(model: Any) -> None:
    nodes = list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)


# ---- zips --------------------------------------------------------------------------------------
def zip_bundle(bundle: Path, target: Path, *, extra: dict[str, bytes] | None = None, top: str = "b.ctbundle") -> Path:
    """A zip of ``bundle`` under the top folder ``top``, plus ``extra`` entries (name -> bytes) as given."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a duplicate name is what some tests want
        for path in sorted(p for p in bundle.rglob("*") if p.is_file()):
            archive.writestr(f"{top}/{path.relative_to(bundle).as_posix()}", path.read_bytes())
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return target


def declare_size(zip_path: Path, name: str, size: int) -> None:
    """Make the entry ``name`` declare ``size`` uncompressed bytes (local header and central directory)."""
    data = bytearray(zip_path.read_bytes())
    with zipfile.ZipFile(zip_path) as archive:
        info = archive.getinfo(name)
    data[info.header_offset + 22 : info.header_offset + 26] = struct.pack("<I", size)
    position = data.find(b"PK\x01\x02")
    while position != -1:
        name_length = struct.unpack("<H", data[position + 28 : position + 30])[0]
        if bytes(data[position + 46 : position + 46 + name_length]).decode() == name:
            data[position + 24 : position + 28] = struct.pack("<I", size)
            break
        position = data.find(b"PK\x01\x02", position + 4)
    zip_path.write_bytes(bytes(data))


# ---- MIDI --------------------------------------------------------------------------------------
def midi_bytes(*, ticks_per_beat: int = 480, tempos: tuple[int, ...] = (500000,), file_type: int = 1, cc: int = 0) -> bytes:
    """A MIDI file: tempo events one beat apart, ``cc`` controller-1 events, a note; fields set raw."""
    import io

    track = mido.MidiTrack()
    for index, tempo in enumerate(tempos):
        track.append(mido.MetaMessage("set_tempo", tempo=tempo, time=0 if index == 0 else max(1, ticks_per_beat)))
    for index in range(cc):
        track.append(mido.Message("control_change", control=1, value=index % 128, time=1))
    track.append(mido.Message("note_on", note=60, velocity=64, time=1))
    track.append(mido.Message("note_off", note=60, velocity=0, time=max(1, ticks_per_beat)))
    midi = mido.MidiFile(type=1, ticks_per_beat=max(1, ticks_per_beat))
    midi.tracks.append(track)
    midi.tracks.append(mido.MidiTrack([mido.Message("control_change", control=1, value=1, time=2)]))
    buffer = io.BytesIO()
    midi.save(file=buffer)
    data = bytearray(buffer.getvalue())
    data[8:14] = struct.pack(">hhh", file_type, 2, ticks_per_beat)  # the header as given, even when mido would refuse it
    return bytes(data)


# ---- time --------------------------------------------------------------------------------------
@contextlib.contextmanager
def within(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging the suite) if the block runs longer than ``seconds``: SIGALRM raises in
    the main thread at the next Python instruction."""

    def hung(signum, frame):
        raise AssertionError(f"still running after {seconds} s: a hang or a runaway")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
