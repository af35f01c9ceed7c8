"""Opening and running ONNX graphs with onnxruntime on the CPU, the one way the runtime does it."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from plugin_core.errors import BundleError


def open_session(onnx_path: str | os.PathLike[str], threads: int):
    """An onnxruntime CPU session with ``threads`` intra-op threads; a bad graph is a BundleError.

    Spinning is off: a bundle runs two sessions in turn (perception, decision), and each one's idle
    threads busy-waiting stole the cores from the other (a Wav2Vec2 bundle rendered 35 % slower),
    and would steal them from a host's audio thread.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return onnxruntime.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad graphs
        raise BundleError(f"not a loadable ONNX graph ({type(exc).__name__})", onnx_path) from exc


def run_session(session: Any, outputs: list[str], feeds: dict[str, np.ndarray], onnx_path: str | os.PathLike[str]) -> list[np.ndarray]:
    """``session.run``; a graph that fails on its inputs (wrong shapes it produced itself, a bad node) is a
    BundleError naming the graph, never onnxruntime's own exception."""
    try:
        return session.run(outputs, feeds)
    except Exception as exc:  # onnxruntime's errors derive from Exception alone (Fail, InvalidArgument, ...)
        detail = " ".join(str(exc).split())[:160]
        raise BundleError(f"the graph failed to run ({type(exc).__name__}: {detail})", onnx_path) from exc
