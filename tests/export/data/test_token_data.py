"""Token data: songs split by song, sequences of A, B and targets."""

from __future__ import annotations

import numpy as np
import pytest

from export.data.token_data import IGNORE, TokenPair, make_sequences, split_by_song
from plugin_core.errors import CountertrackError


def test_split_is_by_song_and_seeded():
    ids = [f"song{i}" for i in range(20)]
    split = split_by_song(ids, seed=1, validation_fraction=0.15, test_fraction=0.15)
    assert sorted(split.train + split.validation + split.test) == sorted(ids)
    assert not set(split.train) & set(split.validation) and not set(split.train) & set(split.test)
    assert len(split.test) == 3 and len(split.validation) == 3
    assert split == split_by_song(ids, seed=1, validation_fraction=0.15, test_fraction=0.15)
    with pytest.raises(CountertrackError, match="at least 2 songs"):
        split_by_song(["only"], 0, 0.15, 0.15)


def test_sequences_align_a_b_and_targets():
    pair = TokenPair("x", np.arange(10), np.arange(100, 110))
    short = TokenPair("y", np.arange(3), np.arange(100, 103))
    sequences = make_sequences([pair, short], length=6, hop=4, lookahead=2, bos=200, pad=201)
    assert sequences["a"].shape == (3, 8)
    assert sequences["a"][0].tolist() == [0, 1, 2, 3, 4, 5, 6, 7]
    assert sequences["b_in"][0].tolist() == [200, 100, 101, 102, 103, 104]
    assert sequences["target"][0].tolist() == [100, 101, 102, 103, 104, 105]
    assert sequences["b_in"][1].tolist()[0] == 103  # the real previous token, not BOS, mid-song
    assert sequences["a"][1].tolist() == [4, 5, 6, 7, 8, 9, 201, 201]  # past the end: PAD
    assert sequences["target"][2].tolist() == [100, 101, 102, IGNORE, IGNORE, IGNORE]  # a short song: the rest ignored
