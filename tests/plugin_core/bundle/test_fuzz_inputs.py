"""Property-based fuzzing of what a user hands countertrack: bundle manifests, grain tables, memory WAV
headers and zips (hashes kept consistent, so the fuzzed content is what gets checked), presets, and
MIDI files of tempo and automation. Every example runs ``countertrack render`` in a child process
bounded in time and memory (``tests.fuzz_harness``) and must end with exit 0, or exit 1 and one line
(a CountertrackError): never another exception, a bug of ours (exit 3), a hang or a runaway; a failed
render leaves its folder as it was. The small runs are part of the fast suite; the large ones are slow.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from plugin_core.io.audio import write_audio
from plugin_core.io.validation import effect_parameters
from plugin_core.stream.presets import BUILTIN_EFFECTS
from tests.conftest import tone
from tests.crafted import Unchanged, declare_size, memory_samples, midi_bytes, rehash, wav_bytes, zip_bundle
from tests.fuzz_harness import CommandRunner

SMALL, LARGE = 5, 150  # the large runs draw new examples each time, except under CI (reproducible: a submission must not hinge on luck)
INTERESTING = [
    0,
    1,
    -1,
    2,
    7,
    8,
    9,
    16,
    1023,
    1024,
    1025,
    5000,
    44100,
    100_000_000,
    2**31,
    2**63,
    -(2**63),
    10**30,
    0.5,
    1.5,
    -0.0,
    1e-300,
    1e20,
    1e308,
    math.nan,
    math.inf,
    -math.inf,
]
scalars = st.none() | st.booleans() | st.sampled_from(INTERESTING) | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12
)


NAMES = [
    "uniform",
    "beats",
    "onsets",
    "encoder.onnx",
    "decision.onnx",
    "memory",
    "memory/memory.wav",
    "memory/grains.json",
    "../x",
    "/etc/passwd",
    "a_new",
    "logits",
    "token",
    "float32",
    "int64",
    "",
    "memory/../encoder.onnx",
]
numbers = st.sampled_from(INTERESTING) | st.integers(-(10**6), 10**6) | st.floats()


def near(original) -> st.SearchStrategy:
    """Values of the original's type most of the time (to get past the schema), anything sometimes."""
    if isinstance(original, bool):
        same = st.booleans()
    elif isinstance(original, (int, float)):
        same = numbers
    elif isinstance(original, str):
        same = st.sampled_from(NAMES) | st.text(max_size=12)
    elif isinstance(original, list):
        same = st.lists(near(original[0]) if original else json_values, max_size=max(4, len(original) + 1))
    else:
        same = json_values
    return st.one_of(same, same, same, json_values)


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    runner = CommandRunner({"COUNTERTRACK_CACHE": str(tmp_path_factory.mktemp("fuzz-cache"))})
    yield runner
    runner.close()


@pytest.fixture(scope="module")
def a_track(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fuzz-a") / "a.wav"
    write_audio(path, tone(220, 1.0), 44100)
    return path


def _render(runner: CommandRunner, folder: Path, a_track: Path, bundle: Path, *options, allowed: tuple[str, ...] = ()) -> None:
    """Render, and hold the outcome to the rule: exit 0, or exit 1 in one line with the folder unchanged."""
    before = Unchanged(folder)
    outcome = runner.run(["render", a_track, "--bundle", bundle, "-o", folder / "out.wav", *options], timeout_s=60)
    assert outcome.code in (0, 1), f"exit {outcome.code}:\n{outcome.err}"
    kind = f"exit {outcome.code}" + ("" if outcome.code == 0 else ": " + re.sub(r"\S*/|\d+|'[^']*'", "", outcome.err.strip())[20:70])
    event(kind)
    OUTCOMES[kind] = OUTCOMES.get(kind, 0) + 1
    if outcome.code == 1:
        lines = outcome.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("countertrack: error: "), outcome.err
        before.check(*allowed)
    else:
        before.check("out.wav", *allowed)


def _leaves(document, path=()) -> list[tuple]:
    """Every path into a JSON document (objects and lists), the containers included."""
    found = [path]
    if isinstance(document, dict):
        for key, value in document.items():
            found += _leaves(value, (*path, key))
    elif isinstance(document, list):
        for index, value in enumerate(document[:3]):
            found += _leaves(value, (*path, index))
    return found


def _set(document, path: tuple, value) -> None:
    """Set (or delete) what ``path`` leads to; a path an earlier mutation took away is left alone."""
    node = document
    for key in path[:-1]:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return
    key = path[-1]
    if not isinstance(node, (dict, list)):
        return
    if isinstance(node, list) and not (isinstance(key, int) and -len(node) <= key < len(node)):
        return  # an earlier mutation turned a mapping into a list: this path no longer exists
    if value is _DELETE and isinstance(node, dict):
        node.pop(path[-1], None)
    elif value is not _DELETE:
        node[path[-1]] = value


_DELETE = object()
OUTCOMES: dict[str, int] = {}  # what the examples ended with (print it to see what a run tried)


def _run(examples: int, body: Callable[[st.DataObject], None]) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=examples <= SMALL or bool(os.environ.get("CI")),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    )
    @given(st.data())
    def property_(data):
        body(data)

    property_()


# ---- targets: each draws one crafted input in a fresh folder and renders with it ------------------
def fuzz_manifest(data: st.DataObject, folder: Path, bundle: Path, a_track: Path, runner: CommandRunner) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    paths = [p for p in _leaves({k: v for k, v in manifest.items() if k not in ("provenance", "files", "sizes")}) if p]
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        path = data.draw(st.sampled_from(paths), label="path")
        original = manifest
        for key in path:  # what the path leads to now (an earlier mutation may have taken it away)
            try:
                original = original[key]
            except (KeyError, IndexError, TypeError):
                original = None
                break
        value = data.draw(st.just(_DELETE) | near(original), label="value")
        _set(manifest, path, value)
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    _render(runner, folder, a_track, bundle)


def fuzz_grain_table(data: st.DataObject, folder: Path, bundle: Path, a_track: Path, runner: CommandRunner) -> None:
    table = json.loads((bundle / "memory" / "grains.json").read_text())
    columns = sorted(table)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        column = data.draw(st.sampled_from([*columns, "extra"]), label="column")
        action = data.draw(st.sampled_from(["entry", "whole", "drop", "append", "row-entry"]), label="action")
        values = table.get(column)
        if action == "entry" and isinstance(values, list) and values:
            index = data.draw(st.integers(0, len(values) - 1), label="index")
            values[index] = data.draw(near(values[index]), label="value")
        elif action == "row-entry" and isinstance(values, list) and values and isinstance(values[0], list) and values[0]:
            index = data.draw(st.integers(0, len(values[0]) - 1))
            values[0][index] = data.draw(near(values[0][index]), label="value")
        elif action == "drop":
            table.pop(column, None)
        elif action == "append" and isinstance(values, list):
            values.append(data.draw(near(values[-1] if values else None), label="value"))
        else:
            table[column] = data.draw(json_values, label="column value")
    (bundle / "memory" / "grains.json").write_text(json.dumps(table))
    rehash(bundle, ["memory/grains.json"])
    _render(runner, folder, a_track, bundle)


def fuzz_memory_header(data: st.DataObject, folder: Path, bundle: Path, a_track: Path, runner: CommandRunner) -> None:
    samples, rate = memory_samples(bundle)
    fields = dict(
        fmt_size=data.draw(st.sampled_from([0, 2, 4, 15, 16, 17, 18, 40, 1 << 20]), label="fmt size"),
        format_tag=data.draw(st.sampled_from([0, 1, 3, 0xFFFE, 7]), label="format"),
        bits=data.draw(st.sampled_from([0, 8, 16, 24, 32, 64]), label="bits"),
        channels=data.draw(st.sampled_from([0, 1, 2, 3, 255, 65535]), label="channels"),
        declared_data=data.draw(st.none() | st.sampled_from([0, 1, 3, 2**32 - 1]) | st.integers(0, 2**32 - 1), label="data size"),
    )
    audio_rate = data.draw(st.sampled_from([0, 1, 7999, 8000, 22050, 44100, 384001, 2**32 - 1]), label="rate")
    try:
        raw = wav_bytes(samples, audio_rate, **fields)
    except (ValueError, OverflowError, ZeroDivisionError, __import__("struct").error):
        return  # a header the writer itself cannot express
    cut = data.draw(st.none() | st.integers(0, len(raw)), label="cut at")
    (bundle / "memory" / "memory.wav").write_bytes(raw if cut is None else raw[:cut])
    rehash(bundle, ["memory/memory.wav"])
    _render(runner, folder, a_track, bundle)


def fuzz_zip(data: st.DataObject, folder: Path, bundle: Path, a_track: Path, runner: CommandRunner) -> None:
    names = sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file())
    extra = {}
    for _ in range(data.draw(st.integers(0, 3), label="extra entries")):
        name = data.draw(
            st.sampled_from(
                [f"b.ctbundle/{n}" for n in names]
                + [
                    "b.ctbundle/memory",
                    "b.ctbundle",
                    "../x",
                    "/abs",
                    "b.ctbundle/new.wav",
                    "other/manifest.json",
                    "b.ctbundle/memory/memory.wav/x",
                ]
            )
            | st.text(min_size=1, max_size=12).filter(lambda n: "\x00" not in n),  # zipfile cuts a name at NUL
            label="entry",
        )
        extra[name] = data.draw(st.binary(max_size=64), label="bytes")
    archive = zip_bundle(bundle, folder / "b.zip", extra=extra)
    shutil.rmtree(bundle)
    with zipfile.ZipFile(archive) as handle:
        entries = [info.filename for info in handle.infolist()]
    if data.draw(st.booleans(), label="lie about a size"):
        declare_size(
            archive,
            data.draw(st.sampled_from(entries), label="entry"),
            data.draw(st.sampled_from([0, 1, 100, 2**31, 2**32 - 1]), label="size"),
        )
    _render(runner, folder, a_track, archive, allowed=("b.zip.d",))


def fuzz_preset(data: st.DataObject, folder: Path, bundle: Path, a_track: Path, runner: CommandRunner) -> None:
    shutil.rmtree(bundle)
    effects = st.builds(
        lambda plugin, params: {"plugin": plugin, "params": params},
        st.sampled_from([*BUILTIN_EFFECTS, "Nope", "x.vst3"]),
        st.dictionaries(
            st.sampled_from(
                sorted(
                    {k for e in BUILTIN_EFFECTS for k in effect_parameters(__import__("pedalboard").__dict__[e])}
                    | {"process", "reset", "is_effect", "__class__"}
                )
            ),
            scalars,
            max_size=3,
        ),
    )
    preset = data.draw(
        st.fixed_dictionaries(
            {"name": st.text(max_size=5) | scalars},
            optional={
                "seed": scalars,
                "description": scalars,
                "wet": numbers,
                "dry": numbers,
                "sampling": st.dictionaries(
                    st.sampled_from(["temperature", "top_k", "top_p", "greedy", "other"]), numbers | st.booleans(), max_size=4
                ),
                "engine": st.dictionaries(
                    st.sampled_from(
                        ["crossfade_s", "continuity", "max_run", "avoid_recent", "loudness_match", "follow_loudness", "harmony", "other"]
                    ),
                    numbers,
                    max_size=4,
                ),
                "pre": st.lists(effects, max_size=2),
                "post": st.lists(effects, max_size=2),
            },
        )
        | json_values,
        label="preset",
    )
    text = json.dumps(preset)
    if data.draw(st.booleans(), label="nest it"):
        depth = data.draw(st.sampled_from([10, 900, 5000, 100_000]), label="depth")
        text = "[" * depth + text + "]" * depth
    (folder / "p.json").write_text(text)
    _render(runner, folder, a_track, _bundle_of(folder), "--preset", folder / "p.json")


def fuzz_midi(data: st.DataObject, folder: Path, bundle: Path, a_track: Path, runner: CommandRunner) -> None:
    shutil.rmtree(bundle)
    raw = bytearray(
        midi_bytes(
            ticks_per_beat=data.draw(st.sampled_from([0, 1, 96, 480, 32767, -1, -6400]) | st.integers(-32768, 32767), label="tpb"),
            tempos=tuple(
                data.draw(
                    st.lists(st.integers(0, 2**24 - 1) | st.sampled_from([0, 1, 60000, 500000]), min_size=1, max_size=4), label="tempos"
                )
            ),
            file_type=data.draw(st.integers(0, 3), label="type"),
            cc=data.draw(st.integers(0, 40), label="cc events"),
        )
    )
    for _ in range(data.draw(st.integers(0, 4), label="flipped bytes")):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.none() | st.integers(0, len(raw)), label="cut at")
    (folder / "m.mid").write_bytes(bytes(raw if cut is None else raw[:cut]))
    use = data.draw(st.sampled_from(["--tempo-map", "--automation", "both"]), label="use")
    options = (["--tempo-map", folder / "m.mid"] if use in ("--tempo-map", "both") else []) + (
        ["--automation", folder / "m.mid", "--cc", "1=temperature:0.5:2.0"] if use in ("--automation", "both") else []
    )
    _render(runner, folder, a_track, _bundle_of(folder), *options)


_SHARED: dict[str, Path] = {}


def _bundle_of(folder: Path) -> Path:
    """The unchanged bundle, shared by the preset and MIDI targets (they change nothing in it)."""
    return _SHARED["bundle"]


TARGETS = {
    "manifest": fuzz_manifest,
    "grain-table": fuzz_grain_table,
    "memory-header": fuzz_memory_header,
    "zip": fuzz_zip,
    "preset": fuzz_preset,
    "midi": fuzz_midi,
}


def _fuzz(target: str, examples: int, synthetic_bundle: Path, a_track: Path, runner: CommandRunner) -> None:
    _SHARED["bundle"] = synthetic_bundle

    def body(data: st.DataObject) -> None:
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            bundle = folder / "b.ctbundle"
            shutil.copytree(synthetic_bundle, bundle)
            TARGETS[target](data, folder, bundle, a_track, runner)

    _run(examples, body)


@pytest.mark.parametrize("target", TARGETS)
def test_fuzzed_inputs_only_ever_give_one_line(target, synthetic_bundle, a_track, runner):
    _fuzz(target, SMALL, synthetic_bundle, a_track, runner)


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_many_fuzzed_inputs_only_ever_give_one_line(target, synthetic_bundle, a_track, runner):
    _fuzz(target, LARGE, synthetic_bundle, a_track, runner)
