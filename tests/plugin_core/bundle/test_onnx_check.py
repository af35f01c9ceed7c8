"""What a bundle's ONNX graph may refer to and expose: its external weight files, found without the
onnx package and kept inside the bundle, and its inputs and outputs as the manifest declares them."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from plugin_core.bundle.onnx_check import check_io, external_data, external_data_names
from plugin_core.bundle.onnx_session import open_session
from plugin_core.errors import BundleError


def _model(weights: np.ndarray) -> onnx.ModelProto:
    """y = x @ weights, x of shape (batch, 4)."""
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "project",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", weights.shape[1]])],
        [numpy_helper.from_array(weights, "w")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def test_weights_kept_in_a_file_beside_the_graph_are_found(tmp_path):
    model = _model(np.ones((4, 3), np.float32))
    onnx.save_model(model, str(tmp_path / "g.onnx"), save_as_external_data=True, location="g.data", size_threshold=0)
    assert (tmp_path / "g.data").is_file()
    assert external_data(tmp_path / "g.onnx") == ["g.data"]
    onnx.save_model(_model(np.ones((4, 3), np.float32)), str(tmp_path / "inline.onnx"))
    assert external_data(tmp_path / "inline.onnx") == []


def test_external_names_are_relative_to_the_graph_and_never_leave_the_bundle(tmp_path):
    assert external_data_names("models/g.onnx", ["g.data", "w/part.bin"], tmp_path) == ["models/g.data", "models/w/part.bin"]
    for outside in ("../g.data", "/etc/passwd", "C:/weights.bin", "w\\..\\..\\x"):
        with pytest.raises(BundleError, match="outside the bundle"):
            external_data_names("g.onnx", [outside], tmp_path)


def _declared(batch="batch", dtype="float32", name="y", columns=3):
    return [{"name": "x", "dtype": "float32", "shape": [batch, 4]}], [{"name": name, "dtype": dtype, "shape": ["batch", columns]}]


def test_the_declared_inputs_and_outputs_are_checked_against_the_session(tmp_path):
    onnx.save_model(_model(np.ones((4, 3), np.float32)), str(tmp_path / "g.onnx"))
    session = open_session(tmp_path / "g.onnx", threads=1)
    check_io(session, *_declared(), tmp_path / "g.onnx")
    check_io(session, *_declared(batch=5), tmp_path / "g.onnx")  # a size the graph leaves open may be fixed
    for wrong, problem in (
        (_declared(name="z"), "outputs are y; its manifest declares z"),
        (_declared(dtype="int64"), "y holds float32; its manifest declares int64"),
        (_declared(columns=7), "y has size 3 on axis 1; its manifest declares 7"),
        (([{"name": "x", "dtype": "float32", "shape": [4]}], _declared()[1]), "x has 2 dimensions; its manifest declares 1"),
    ):
        with pytest.raises(BundleError, match=problem):
            check_io(session, *wrong, tmp_path / "g.onnx")
