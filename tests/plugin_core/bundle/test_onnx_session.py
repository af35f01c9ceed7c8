"""ONNX sessions: a real graph runs on the CPU; a graph that cannot load or fails on its inputs is one
BundleError naming it."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from plugin_core.bundle.onnx_session import open_session, run_session
from plugin_core.errors import BundleError


def _scale_graph(path, factor: float = 2.0):
    """y = x * factor, x of shape (batch, 3)."""
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "factor"], ["y"])],
        "scale",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        [numpy_helper.from_array(np.array([factor], np.float32), "factor")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return path


def test_a_graph_runs_and_gives_its_outputs(tmp_path):
    path = _scale_graph(tmp_path / "scale.onnx", 3.0)
    session = open_session(path, threads=1)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    (y,) = run_session(session, ["y"], {"x": x}, path)
    np.testing.assert_array_equal(y, x * 3.0)


def test_a_file_that_is_not_a_graph_is_one_bundle_error(tmp_path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"\x08\x01garbage")
    with pytest.raises(BundleError, match="not a loadable ONNX graph") as caught:
        open_session(path, threads=1)
    assert "broken.onnx" in str(caught.value)


def test_inputs_the_graph_cannot_take_are_a_bundle_error_naming_it(tmp_path):
    path = _scale_graph(tmp_path / "scale.onnx")
    session = open_session(path, threads=1)
    with pytest.raises(BundleError, match="the graph failed to run") as caught:
        run_session(session, ["y"], {"x": np.zeros((2, 3), np.float64)}, path)  # doubles where it takes floats
    assert "scale.onnx" in str(caught.value) and "\n" not in str(caught.value)
