"""Token sequences for training: the split by song, and aligned (A, B) training sequences.

Sequences never cross songs, and the split is by song, never by sequence, so validation and test
measure songs the model has not heard.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from plugin_core.errors import CountertrackError

IGNORE = -100


@dataclass(frozen=True)
class TokenPair:
    """One song as tokens: A and B aligned segment by segment."""

    pair_id: str
    guide: np.ndarray  # int64 (segments,)
    response: np.ndarray  # int64 (segments,)


@dataclass(frozen=True)
class Split:
    train: tuple[str, ...]
    validation: tuple[str, ...]
    test: tuple[str, ...]

    def to_dict(self) -> dict[str, list[str]]:
        return {"train": list(self.train), "validation": list(self.validation), "test": list(self.test)}


def split_by_song(pair_ids: list[str], seed: int, validation_fraction: float, test_fraction: float) -> Split:
    """Seeded split of songs: at least one for validation; test may be empty for tiny corpora."""
    if len(pair_ids) < 2:
        raise CountertrackError(f"training needs at least 2 songs (one held out for validation); the corpus has {len(pair_ids)}")
    order = sorted(pair_ids)
    np.random.default_rng(seed).shuffle(order)
    n = len(order)
    n_test = int(round(test_fraction * n)) if n >= 4 else 0
    n_validation = max(1, int(round(validation_fraction * n)))
    if n - n_test - n_validation < 1:
        n_test = max(0, n - n_validation - 1)
    test, validation, train = order[:n_test], order[n_test : n_test + n_validation], order[n_test + n_validation :]
    return Split(train=tuple(sorted(train)), validation=tuple(sorted(validation)), test=tuple(sorted(test)))


def make_sequences(pairs: list[TokenPair], length: int, hop: int, lookahead: int, bos: int, pad: int) -> dict[str, torch.Tensor]:
    """Training sequences (``length`` segments each, one every ``hop``): ``a`` (n, length + lookahead), ``b_in`` (n, length), ``target`` (n, length).

    ``b_in`` is B shifted right (BOS at a song's start, else the real previous token); A past a
    song's end is PAD; target positions past the end are ignored in the loss.
    """
    a_rows, b_rows, target_rows = [], [], []
    for pair in pairs:
        n = pair.guide.size
        starts = list(range(0, max(1, n - length + 1), hop))
        if starts[-1] + length < n:
            starts.append(n - length)
        for start in starts:
            a = np.full(length + lookahead, pad, dtype=np.int64)
            a_part = pair.guide[start : start + length + lookahead]
            a[: a_part.size] = a_part
            target = np.full(length, IGNORE, dtype=np.int64)
            t_part = pair.response[start : start + length]
            target[: t_part.size] = t_part
            previous = bos if start == 0 else int(pair.response[start - 1])
            b_in = np.full(length, pad, dtype=np.int64)
            b_in[0] = previous
            b_in[1 : t_part.size] = t_part[:-1]
            a_rows.append(a)
            b_rows.append(b_in)
            target_rows.append(target)
    return {
        "a": torch.from_numpy(np.stack(a_rows)),
        "b_in": torch.from_numpy(np.stack(b_rows)),
        "target": torch.from_numpy(np.stack(target_rows)),
    }
