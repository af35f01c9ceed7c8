"""Input checks shared by every reader: stream formats, whole numbers and numbers in range, finite JSON,
segment counts, and .npz arrays read without pickle or a decompression bomb."""

from __future__ import annotations

import zipfile

import numpy as np
import pedalboard
import pytest

from plugin_core.errors import BundleError, ConfigurationError, CountertrackError
from plugin_core.io.validation import (
    check_segment_count,
    check_stream_format,
    effect_parameters,
    finite_numbers,
    number_in,
    read_npz,
    whole_number,
)


def test_a_stream_format_is_a_whole_rate_and_channel_count_in_range():
    assert check_stream_format(np.int64(48000), 2) == (48000, 2)
    for rate, channels in ((44100.0, 2), (True, 1), (4000, 1), (44100, 0), (44100, 9), (44100, 2.0)):
        with pytest.raises(ConfigurationError):
            check_stream_format(rate, channels)


def test_whole_numbers_and_numbers_in_range_name_what_is_wrong():
    assert whole_number(np.int32(5), 1, 10, "layers") == 5
    with pytest.raises(BundleError, match="layers must be a whole number, not 5.0"):
        whole_number(5.0, 1, 10, "layers", error=BundleError)
    with pytest.raises(CountertrackError, match="layers must be a whole number, not True"):
        whole_number(True, 0, 10, "layers")
    with pytest.raises(CountertrackError, match="layers 11 is out of range 1..10"):
        whole_number(11, 1, 10, "layers")
    assert number_in(np.float32(0.5), 0, 1, "share") == 0.5
    with pytest.raises(CountertrackError, match="share is nan, not a finite number"):
        number_in(float("nan"), 0, 1, "share")
    with pytest.raises(CountertrackError, match="share 1.5 is out of range 0..1"):
        number_in(1.5, 0, 1, "share")
    with pytest.raises(CountertrackError, match="share must be a number, not '0.5'"):
        number_in("0.5", 0, 1, "share")


def test_a_non_finite_number_anywhere_in_a_document_is_named_by_its_place():
    finite_numbers({"a": [1, 2.5, {"b": -3}]})
    with pytest.raises(CountertrackError, match="a/2/b is inf, not a finite number"):
        finite_numbers({"a": [1, 2.5, {"b": float("inf")}]})
    deep: list = [float("nan")]
    for _ in range(5000):  # deeper than Python's recursion limit
        deep = [deep]
    with pytest.raises(CountertrackError, match="not a finite number"):
        finite_numbers(deep)


def test_a_runaway_segment_count_is_refused_before_the_grid_is_built():
    check_segment_count(100, 10.0, "the grid")
    with pytest.raises(ConfigurationError, match="would cut 10 s into 1e\\+06 segments"):
        check_segment_count(1e6, 10.0, "the grid")
    with pytest.raises(ConfigurationError):
        check_segment_count(float("nan"), 10.0, "the grid")


def test_npz_arrays_are_read_as_float32_and_bad_ones_named(tmp_path):
    np.savez(tmp_path / "good.npz", x=np.arange(4, dtype=np.int64), y=np.ones(2))
    arrays = read_npz(tmp_path / "good.npz", ("x", "y"), "a codebook")
    assert arrays["x"].dtype == np.float32 and arrays["x"].tolist() == [0, 1, 2, 3]
    with pytest.raises(CountertrackError, match="not a codebook"):
        read_npz(tmp_path / "good.npz", ("z",), "a codebook")
    np.savez(tmp_path / "nan.npz", x=np.array([1.0, np.nan]))
    with pytest.raises(CountertrackError, match="x holds a value that is not a finite number"):
        read_npz(tmp_path / "nan.npz", ("x",), "a codebook")
    np.savez(tmp_path / "text.npz", x=np.array(["a", "b"]))
    with pytest.raises(CountertrackError, match="x holds <U1, not numbers"):
        read_npz(tmp_path / "text.npz", ("x",), "a codebook")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(BundleError, match="not a codebook"):
        read_npz(tmp_path / "junk.npz", ("x",), "a codebook", error=BundleError)


def test_an_npz_declaring_more_than_allowed_is_refused_before_decompressing(tmp_path):
    with zipfile.ZipFile(tmp_path / "big.npz", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("x.npy", "w") as member:
            np.lib.format.write_array(member, np.zeros(1 << 20, np.float32))  # 4 MB of zeros, a few KB compressed
    assert (tmp_path / "big.npz").stat().st_size < 100_000
    with pytest.raises(CountertrackError, match="declare .* bytes, more than 1000000"):
        read_npz(tmp_path / "big.npz", ("x",), "a codebook", max_bytes=1_000_000)
    assert read_npz(tmp_path / "big.npz", ("x",), "a codebook")["x"].size == 1 << 20


def test_only_writable_properties_of_an_effect_are_parameters():
    names = effect_parameters(pedalboard.Reverb)
    assert "room_size" in names and "wet_level" in names
    assert "process" not in names and "reset" not in names and not any(n.startswith("_") for n in names)
