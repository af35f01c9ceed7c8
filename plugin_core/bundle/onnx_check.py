"""What an ONNX graph of a bundle may refer to and expose, checked without the ``onnx`` package.

``external_data`` lists the files a graph keeps its weights in (``TensorProto.external_data``),
found by walking the protobuf wire format along the messages that can hold tensors: a bundle lists
and hashes those files like any other, so none is read unverified (onnxruntime would otherwise
open whatever path the graph names). ``check_io`` compares a session's inputs and outputs (names,
ranks, element types, fixed sizes) with what the manifest declares.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from plugin_core.errors import BundleError

# message -> {field number: message type of that field}; only paths that can reach a TensorProto
_MODEL, _GRAPH, _NODE, _ATTRIBUTE, _TENSOR, _SPARSE, _TRAINING, _FUNCTION = range(8)
_CHILDREN = {
    _MODEL: {7: _GRAPH, 20: _TRAINING, 25: _FUNCTION},
    _GRAPH: {1: _NODE, 5: _TENSOR, 15: _SPARSE},
    _NODE: {5: _ATTRIBUTE},
    _ATTRIBUTE: {5: _TENSOR, 6: _GRAPH, 10: _TENSOR, 11: _GRAPH, 22: _SPARSE, 23: _SPARSE},
    _SPARSE: {1: _TENSOR, 2: _TENSOR},
    _TRAINING: {1: _GRAPH, 2: _GRAPH},
    _FUNCTION: {7: _NODE},
}
_TENSOR_EXTERNAL_DATA, _ENTRY_KEY, _ENTRY_VALUE = 13, 1, 2
MAX_NESTING = 64
ELEMENT_TYPES = {
    "tensor(float)": "float32",
    "tensor(int64)": "int64",
    "tensor(double)": "float64",
    "tensor(int32)": "int32",
    "tensor(float16)": "float16",
    "tensor(bool)": "bool",
    "tensor(uint8)": "uint8",
    "tensor(int8)": "int8",
}


_WALKED: OrderedDict[bytes, tuple[str, ...]] = OrderedDict()  # graphs already walked, by the sha256 of their bytes
WALKED_KEPT = 32


def external_data(graph_path: str | os.PathLike[str]) -> list[str]:
    """The ``location`` of every tensor of the graph stored outside it, as written (relative to the graph's folder).

    The walk is pure Python; a graph whose bytes were walked before in this process (a bundle loaded
    again, by a batch or a test) is answered from its digest."""
    path = Path(graph_path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read the graph ({exc.strerror})", path) from exc
    digest = hashlib.sha256(data).digest()
    known = _WALKED.get(digest)
    if known is not None:
        return list(known)
    locations: list[str] = []
    try:
        _walk(memoryview(data), _MODEL, 0, locations)
    except (IndexError, ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"is not a valid ONNX graph ({exc})", path) from exc
    _WALKED[digest] = tuple(locations)
    while len(_WALKED) > WALKED_KEPT:
        _WALKED.popitem(last=False)
    return locations


def _varint(data: memoryview, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7
        if shift > 63:
            raise ValueError("a varint runs past 64 bits")


def _fields(data: memoryview) -> Iterator[tuple[int, int, int | memoryview]]:
    """(field number, wire type, value) of one message: ints for varints, memoryviews for the rest."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        value: int | memoryview
        if wire == 0:
            value, at = _varint(data, at)
        elif wire == 1 or wire == 5:
            width = 8 if wire == 1 else 4
            value, at = data[at : at + width], at + width
        elif wire == 2:
            length, at = _varint(data, at)
            if at + length > len(data):
                raise ValueError("a field runs past the end of its message")
            value, at = data[at : at + length], at + length
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _walk(data: memoryview, kind: int, depth: int, locations: list[str]) -> None:
    if depth > MAX_NESTING:
        raise ValueError(f"graphs nested more than {MAX_NESTING} deep")
    if kind == _TENSOR:
        for number, wire, value in _fields(data):
            if number == _TENSOR_EXTERNAL_DATA and wire == 2 and isinstance(value, memoryview):
                entry = {n: bytes(v).decode("utf-8") for n, w, v in _fields(value) if w == 2}
                if entry.get(_ENTRY_KEY) == "location":
                    locations.append(entry.get(_ENTRY_VALUE, ""))
        return
    children = _CHILDREN[kind]
    for number, wire, value in _fields(data):
        if wire == 2 and isinstance(value, memoryview) and number in children:
            _walk(value, children[number], depth + 1, locations)


def external_data_names(graph_name: str, locations: Sequence[str], folder: str | os.PathLike[str]) -> list[str]:
    """Bundle-relative names (POSIX) of a graph's external data files; a location leaving the bundle is refused."""
    names = []
    for location in locations:
        parts = PurePosixPath(location.replace("\\", "/")).parts
        if not parts or PurePosixPath(location.replace("\\", "/")).is_absolute() or ".." in parts or ":" in parts[0]:
            raise BundleError(f"{graph_name} keeps weights in {location!r}, outside the bundle", folder)
        names.append(PurePosixPath(graph_name).parent.joinpath(*parts).as_posix())
    return names


def check_io(session: Any, declared_inputs: Sequence[dict], declared_outputs: Sequence[dict], path: str | os.PathLike[str]) -> None:
    """The session's inputs and outputs are the declared ones: same names, and for each the same rank,
    element type and every size both give as a number."""
    for role, actual, declared in (("inputs", session.get_inputs(), declared_inputs), ("outputs", session.get_outputs(), declared_outputs)):
        names = [item.name for item in actual]
        wanted = [str(item.get("name")) for item in declared]
        if sorted(names) != sorted(wanted):
            raise BundleError(f"the graph's {role} are {', '.join(names)}; its manifest declares {', '.join(wanted)}", path)
        by_name = {item.name: item for item in actual}
        for item in declared:
            tensor = by_name[str(item["name"])]
            shape = list(item.get("shape", []))
            element = ELEMENT_TYPES.get(tensor.type, tensor.type)
            if element != item.get("dtype"):
                raise BundleError(f"the graph's {tensor.name} holds {element}; its manifest declares {item.get('dtype')}", path)
            actual_shape = list(tensor.shape or [])
            if len(actual_shape) != len(shape):
                raise BundleError(f"the graph's {tensor.name} has {len(actual_shape)} dimensions; its manifest declares {len(shape)}", path)
            for axis, (have, want) in enumerate(zip(actual_shape, shape)):
                if isinstance(have, int) and isinstance(want, int) and not isinstance(want, bool) and have != want:
                    raise BundleError(f"the graph's {tensor.name} has size {have} on axis {axis}; its manifest declares {want}", path)
