"""Decision at run time: the ONNX step graph with explicit caches, and the generation loop.

The step graph decodes one segment per call: inputs ``a_new`` (A tokens entering the lookahead
window), ``a_aligned`` (A at this segment), ``b_previous`` (B at the previous segment, or BOS) and
the four caches; outputs the logits and the grown caches. ``DecisionState`` trims the caches to the
model's context after each step, so every call costs the same whatever the track length.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, overload

import numpy as np

from plugin_core.bundle.onnx_session import open_session, run_session
from plugin_core.decision.config import ANTICIPATE, DecisionConfig
from plugin_core.decision.rng import PortableRandom
from plugin_core.decision.sampling import SamplingConfig, allowed_mask, choose
from plugin_core.errors import BundleError

STEP_INPUTS = ("a_new", "a_aligned", "b_previous", "self_k", "self_v", "cross_k", "cross_v")
STEP_OUTPUTS = ("logits", "self_k_out", "self_v_out", "cross_k_out", "cross_v_out")


class Stepper(Protocol):
    """One decoding step: (a_new, a_aligned, b_previous, caches) -> (logits, caches)."""

    spec: DecisionConfig

    def __call__(
        self, a_new: np.ndarray, a_aligned: np.ndarray, b_previous: np.ndarray, caches: tuple[np.ndarray, ...]
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]: ...


class OnnxStepper:
    """The exported step graph in onnxruntime."""

    def __init__(self, onnx_path: str | os.PathLike[str], spec: DecisionConfig, threads: int = 1):
        self.path = onnx_path
        self._session = open_session(onnx_path, threads)
        self.spec = spec

    def __call__(self, a_new, a_aligned, b_previous, caches):
        feeds = dict(zip(STEP_INPUTS, (a_new, a_aligned, b_previous, *caches)))
        logits, *new_caches = run_session(self._session, list(STEP_OUTPUTS), feeds, self.path)
        logits = np.asarray(logits)
        if logits.shape != (self.spec.vocab_size,) or not np.isfinite(logits).all():
            problem = (
                f"gave logits shaped {logits.shape}"
                if logits.shape != (self.spec.vocab_size,)
                else "gave logits that are not finite numbers"
            )
            raise BundleError(f"the decision step {problem}; its vocabulary is {self.spec.vocab_size}", self.path)
        spec, added = self.spec, int(np.asarray(a_new).shape[0])
        wanted = [(spec.layers, spec.heads, caches[i].shape[2] + (1 if i < 2 else added), spec.head_dim) for i in range(4)]
        if [tuple(np.shape(c)) for c in new_caches] != wanted:
            raise BundleError(f"the decision step gave caches shaped {[tuple(np.shape(c)) for c in new_caches]}, not {wanted}", self.path)
        return logits, tuple(new_caches)


@dataclass
class DecisionState:
    """Where a decoding is: the caches, the previous B token and the A tokens seen so far."""

    spec: DecisionConfig
    caches: tuple[np.ndarray, ...] = ()
    previous: int = -1
    a_seen: list[int] = field(default_factory=list)
    position: int = 0

    def __post_init__(self) -> None:
        if not self.caches:
            empty = np.zeros((self.spec.layers, self.spec.heads, 0, self.spec.head_dim), dtype=np.float32)
            self.caches = (empty,) * 4
        if self.previous < 0:
            self.previous = self.spec.bos


def guide_as_heard(a_tokens: np.ndarray, lookahead: int, start: int) -> np.ndarray:
    """The A sequence a model reads: A itself, or for an anticipating model A one segment late
    (``start``, the BOS id, at segment 0), so position t carries A's segment t-1."""
    a = np.asarray(a_tokens, dtype=np.int64)
    if lookahead != ANTICIPATE:
        return a
    return np.concatenate([np.array([start], dtype=np.int64), a[:-1]])


def decode_step(stepper: Stepper, state: DecisionState, a_tokens: list[int] | np.ndarray, choose_token: Callable[[np.ndarray], int]) -> int:
    """Decode segment ``state.position``, given every A token known so far (at least position +
    lookahead + 1 of them, or all of A when the track has ended: missing ones are PAD). An
    anticipating model reads A one segment late, so it needs only ``position`` of them."""
    spec = state.spec
    t, k = state.position, spec.ahead
    late = 1 if spec.anticipates else 0
    known = len(a_tokens)

    def a_at(i: int) -> int:
        i -= late
        if i < 0:
            return spec.bos  # before A's first segment: nothing heard yet
        return int(a_tokens[i]) if i < known else spec.pad

    new_positions = range(0, k + 1) if t == 0 else range(t + k, t + k + 1)
    a_new = np.array([a_at(i) for i in new_positions], dtype=np.int64)
    logits, caches = stepper(a_new, np.array([a_at(t)], dtype=np.int64), np.array([state.previous], dtype=np.int64), state.caches)
    self_keep, cross_keep = spec.context - 1, spec.context + k - 1
    state.caches = (
        caches[0][:, :, -self_keep:],
        caches[1][:, :, -self_keep:],
        caches[2][:, :, -cross_keep:],
        caches[3][:, :, -cross_keep:],
    )
    token = choose_token(np.asarray(logits))
    state.previous = token
    state.position += 1
    return token


@overload
def generate(
    stepper: Stepper,
    a_tokens: np.ndarray,
    sampling: SamplingConfig,
    seed: int,
    allowed: np.ndarray | list[int] | None = None,
    return_logits: Literal[False] = False,
) -> np.ndarray: ...


@overload
def generate(
    stepper: Stepper,
    a_tokens: np.ndarray,
    sampling: SamplingConfig,
    seed: int,
    allowed: np.ndarray | list[int] | None = None,
    *,
    return_logits: Literal[True],
) -> tuple[np.ndarray, np.ndarray]: ...


def generate(
    stepper: Stepper,
    a_tokens: np.ndarray,
    sampling: SamplingConfig,
    seed: int,
    allowed: np.ndarray | list[int] | None = None,
    return_logits: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """B tokens answering ``a_tokens`` (one per A segment), seeded; restricted to ``allowed`` labels."""
    spec = stepper.spec
    rng = PortableRandom(seed)
    mask = allowed_mask(spec.vocab_size, allowed)
    state = DecisionState(spec)
    tokens = np.zeros(len(a_tokens), dtype=np.int64)
    all_logits = []

    def pick(logits: np.ndarray) -> int:
        if return_logits:
            all_logits.append(logits)
        return choose(logits, sampling, rng, mask)

    for t in range(len(a_tokens)):
        tokens[t] = decode_step(stepper, state, a_tokens, pick)
    if return_logits:
        return tokens, np.stack(all_logits) if all_logits else np.zeros((0, spec.vocab_size), np.float32)
    return tokens
