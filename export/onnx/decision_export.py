"""Freeze the decision model's ``step`` into decision.onnx (caches as explicit inputs/outputs) and
prove onnxruntime decodes what PyTorch decodes."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from export.model.decision_model import DecisionModel
from plugin_core.decision.config import DecisionConfig
from plugin_core.decision.sampling import SamplingConfig
from plugin_core.decision.session import STEP_INPUTS, STEP_OUTPUTS, OnnxStepper, generate
from plugin_core.io.atomic import atomic_path

ONNX_OPSET = 17


class TorchStepper:
    """The PyTorch model behind the same step interface as the ONNX graph (numpy in, numpy out)."""

    def __init__(self, model: DecisionModel):
        self.model = model.eval()
        self.spec = model.config

    @torch.inference_mode()
    def __call__(self, a_new, a_aligned, b_previous, caches):
        outputs = self.model.step(
            torch.from_numpy(a_new),
            torch.from_numpy(a_aligned),
            torch.from_numpy(b_previous),
            *(torch.from_numpy(np.ascontiguousarray(c)) for c in caches),
        )
        return outputs[0].numpy(), tuple(o.numpy() for o in outputs[1:])


class _StepGraph(nn.Module):
    def __init__(self, model: DecisionModel):
        super().__init__()
        self.model = model

    def forward(self, a_new, a_aligned, b_previous, self_k, self_v, cross_k, cross_v):
        return self.model.step(a_new, a_aligned, b_previous, self_k, self_v, cross_k, cross_v)


def export_step_graph(model: DecisionModel, path: str | os.PathLike[str]) -> DecisionConfig:
    """Write the step graph; cache lengths and the number of new A tokens are dynamic axes."""
    model = model.eval()
    spec = model.config
    cache = torch.zeros(spec.layers, spec.heads, 3, spec.head_dim)
    example = (
        torch.tensor([1, 2], dtype=torch.int64),
        torch.tensor([1], dtype=torch.int64),
        torch.tensor([spec.bos], dtype=torch.int64),
        cache,
        cache,
        torch.zeros(spec.layers, spec.heads, 4, spec.head_dim),
        torch.zeros(spec.layers, spec.heads, 4, spec.head_dim),
    )
    dynamic = {
        "a_new": {0: "new"},
        "self_k": {2: "past"},
        "self_v": {2: "past"},
        "cross_k": {2: "seen"},
        "cross_v": {2: "seen"},
        "self_k_out": {2: "past_plus_one"},
        "self_v_out": {2: "past_plus_one"},
        "cross_k_out": {2: "seen_plus_new"},
        "cross_v_out": {2: "seen_plus_new"},
    }
    with atomic_path(path) as tmp, warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _StepGraph(model),
            example,
            str(tmp),
            input_names=list(STEP_INPUTS),
            output_names=list(STEP_OUTPUTS),
            dynamic_axes=dynamic,
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
    return spec


@dataclass(frozen=True)
class DecisionParity:
    sequences: int
    segments: int
    tokens_equal: bool
    max_logit_error: float

    def describe(self) -> str:
        verdict = "identical" if self.tokens_equal else "DIFFERENT"
        return f"decision parity on {self.sequences} sequences / {self.segments} segments: greedy tokens {verdict}, logits within {self.max_logit_error:.1e}"


def check_decision_parity(model: DecisionModel, onnx_path: str | os.PathLike[str], sequences: list[np.ndarray]) -> DecisionParity:
    """Greedy-decode each A sequence with PyTorch and with onnxruntime; compare tokens and logits."""
    torch_stepper = TorchStepper(model)
    onnx_stepper = OnnxStepper(Path(onnx_path), torch_stepper.spec)
    greedy = SamplingConfig(greedy=True)
    equal, error, segments = True, 0.0, 0
    for a_tokens in sequences:
        t_tokens, t_logits = generate(torch_stepper, a_tokens, greedy, seed=0, return_logits=True)
        o_tokens, o_logits = generate(onnx_stepper, a_tokens, greedy, seed=0, return_logits=True)
        equal &= bool(np.array_equal(t_tokens, o_tokens))
        if t_logits.size:
            error = max(error, float(np.abs(t_logits - o_logits).max()))
        segments += len(a_tokens)
    return DecisionParity(sequences=len(sequences), segments=segments, tokens_equal=equal, max_logit_error=error)
