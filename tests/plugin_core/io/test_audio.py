"""Audio I/O: every format pedalboard reads, bit depth kept, resampling aligned, bad input named."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile

from plugin_core.errors import AudioError, CountertrackError
from plugin_core.io.audio import probe_audio, read_audio, resample, to_mono, write_audio, write_reproducible_float_wav
from tests.conftest import tone
from tests.disk import entries, small_disk


@pytest.mark.parametrize(
    ("name", "subtype", "tolerance"),
    [("a.wav", "PCM_16", 1e-4), ("a.wav", "PCM_24", 1e-6), ("a.wav", "FLOAT", 0.0), ("a.flac", "PCM_24", 1e-6), ("a.aiff", "PCM_16", 1e-4)],
)
def test_lossless_formats_round_trip_and_keep_bit_depth(tmp_path, name, subtype, tolerance):
    signal = tone(440, 0.5, 48000, channels=2)
    path = tmp_path / name
    write_audio(path, signal, 48000, subtype=subtype)
    audio = read_audio(path)
    assert audio.sample_rate == 48000 and audio.samples.shape == signal.shape
    assert audio.info.subtype == subtype
    assert np.max(np.abs(audio.samples - signal)) <= tolerance


@pytest.mark.parametrize("name", ["a.mp3", "a.ogg"])
def test_lossy_formats_read_back_with_their_rate_and_channels(tmp_path, name):
    path = tmp_path / name
    write_audio(path, tone(440, 1.0, 44100, channels=2), 44100)
    audio = read_audio(path)
    assert audio.sample_rate == 44100 and audio.num_channels == 2
    assert audio.num_samples >= 44100
    assert 0.1 < np.max(np.abs(audio.samples)) < 0.5


def test_resample_keeps_length_and_timing():
    rate_in, rate_out = 44100, 16000
    impulse = np.zeros((1, rate_in), dtype=np.float32)
    impulse[0, 22050] = 1.0
    out = resample(impulse, rate_in, rate_out)
    assert out.shape == (1, rate_out)
    assert abs(int(np.argmax(np.abs(out[0]))) - 8000) <= 1


def test_read_resamples_and_mixes_down_on_request(tmp_path):
    path = tmp_path / "stereo.wav"
    stereo = np.concatenate([tone(440, 1.0, 48000), np.zeros((1, 48000), np.float32)])
    write_audio(path, stereo, 48000, subtype="FLOAT")
    audio = read_audio(path, sample_rate=16000, mono=True)
    assert audio.samples.shape == (1, 16000) and audio.sample_rate == 16000
    assert audio.info.sample_rate == 48000
    np.testing.assert_allclose(np.max(np.abs(audio.samples)), 0.15, rtol=0.05)
    np.testing.assert_array_equal(to_mono(stereo), stereo.mean(axis=0, keepdims=True))


def _expect_error(path, fragment: str):
    with pytest.raises(CountertrackError) as info:
        read_audio(path)
    message = str(info.value)
    assert str(path) in message and fragment in message
    assert "\n" not in message


def test_missing_file_is_named(tmp_path):
    _expect_error(tmp_path / "nope.wav", "file not found")


def test_directory_is_refused(tmp_path):
    _expect_error(tmp_path, "is a directory")


def test_random_bytes_are_not_audio(tmp_path):
    path = tmp_path / "noise.wav"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    _expect_error(path, "not a readable audio file")


def test_empty_file_is_not_audio(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    _expect_error(path, "not a readable audio file")


def test_truncated_header_is_not_audio(tmp_path):
    good = tmp_path / "good.wav"
    write_audio(good, tone(440, 0.2), 44100)
    path = tmp_path / "cut.wav"
    path.write_bytes(good.read_bytes()[:30])
    _expect_error(path, "not a readable audio file")


def test_truncated_data_is_reported(tmp_path):
    good = tmp_path / "good.wav"
    write_audio(good, tone(440, 1.0), 44100)
    path = tmp_path / "half.wav"
    data = good.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _expect_error(path, "truncated")


def test_zero_samples_are_refused(tmp_path):
    path = tmp_path / "zero.wav"
    soundfile.write(path, np.zeros((0, 1), np.float32), 44100)
    _expect_error(path, "zero samples")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_samples_are_refused(tmp_path, bad):
    path = tmp_path / "bad.wav"
    signal = tone(440, 0.1)
    signal[0, 100] = bad
    soundfile.write(path, signal.T, 44100, subtype="FLOAT")
    _expect_error(path, "NaN or Inf samples (first at sample 100)")


def test_eight_channels_are_refused(tmp_path):
    path = tmp_path / "wide.wav"
    soundfile.write(path, np.zeros((1000, 8), np.float32), 44100)
    _expect_error(path, "8 channels")


def test_probe_reads_header_only(tmp_path):
    path = tmp_path / "a.wav"
    write_audio(path, tone(220, 0.25, 22050), 22050, subtype="PCM_16")
    info = probe_audio(path)
    assert (info.sample_rate, info.num_channels, info.num_samples, info.subtype) == (22050, 1, 5512, "PCM_16")


@pytest.mark.parametrize("extension", [".wav", ".flac", ".ogg", ".mp3"])
def test_a_write_to_a_full_disk_is_one_error_and_keeps_the_existing_file(tmp_path, extension):
    """A real full disk (a 16 KiB tmpfs): libsndfile fails mid-file, the OGG writer stops silently
    (caught by reading back), the MP3 writer raises; the old file stays, nothing else is left."""
    with small_disk(tmp_path / "disk", 16) as mounted:
        if not mounted:
            pytest.skip("cannot mount a small tmpfs here (needs root); the CLI test covers a file size limit instead")
        target = tmp_path / "disk" / f"out{extension}"
        target.write_bytes(b"yesterday's take")
        with pytest.raises(CountertrackError, match="no space left|cut short") as info:
            write_audio(target, tone(440, 5.0), 44100)
        assert str(info.value).startswith(str(target)) and "\n" not in str(info.value)
        assert target.read_bytes() == b"yesterday's take"
        assert entries(tmp_path / "disk") == [target.name]


def test_eight_bit_output_keeps_its_depth_in_every_lossless_format(tmp_path):
    """WAV holds 8-bit only unsigned, FLAC only signed: the same depth is written either way."""
    for extension, subtype in ((".wav", "PCM_U8"), (".flac", "PCM_S8"), (".aiff", "PCM_S8")):
        write_audio(tmp_path / f"x{extension}", tone(440, 0.1), 44100, subtype="PCM_S8")
        assert soundfile.info(str(tmp_path / f"x{extension}")).subtype == subtype


def test_nan_output_is_refused_before_touching_disk(tmp_path):
    signal = tone(440, 0.1)
    signal[0, 5] = np.nan
    with pytest.raises(CountertrackError, match="NaN"):
        write_audio(tmp_path / "x.wav", signal, 44100)
    assert os.listdir(tmp_path) == []


def test_write_refuses_overwrite_when_asked(tmp_path):
    target = tmp_path / "x.wav"
    write_audio(target, tone(440, 0.1), 44100)
    with pytest.raises(CountertrackError, match="already exists"):
        write_audio(target, tone(440, 0.1), 44100, overwrite=False)


def test_write_into_missing_folder_is_named(tmp_path):
    with pytest.raises(CountertrackError, match="output folder does not exist"):
        write_audio(tmp_path / "no" / "x.wav", tone(440, 0.1), 44100)


def test_integer_output_is_clipped_not_wrapped(tmp_path):
    path = tmp_path / "hot.wav"
    write_audio(path, np.full((1, 100), 1.5, np.float32), 44100, subtype="PCM_16")
    assert np.all(read_audio(path).samples > 0.99)


def test_non_ascii_names_work(tmp_path):
    path = tmp_path / "bässe – 低音.wav"
    write_audio(path, tone(110, 0.2), 44100)
    assert read_audio(Path(path)).num_samples == 8820


def test_a_reproducible_float_wav_written_in_pieces_is_the_file_of_the_whole(tmp_path):
    """The deterministic float WAV (golden files, a session's audio) takes a long signal in pieces: the
    same bytes as the whole, a plain 44-byte header (no PEAK chunk and its time of writing)."""
    x = np.random.default_rng(4).uniform(-1, 1, (2, 1000)).astype(np.float32)
    write_reproducible_float_wav(tmp_path / "whole.wav", x, 48000)
    write_reproducible_float_wav(tmp_path / "pieces.wav", (x[:, a:b] for a, b in ((0, 1), (1, 1), (1, 600), (600, 1000))), 48000)
    whole = (tmp_path / "whole.wav").read_bytes()
    assert (tmp_path / "pieces.wav").read_bytes() == whole and len(whole) == 44 + x.size * 4
    samples, rate = soundfile.read(str(tmp_path / "pieces.wav"), dtype="float32", always_2d=True)
    assert rate == 48000 and soundfile.info(str(tmp_path / "pieces.wav")).subtype == "FLOAT"
    np.testing.assert_array_equal(samples.T, x)
    with pytest.raises(AudioError, match="pieces of 2 and 1 channels"):
        write_reproducible_float_wav(tmp_path / "mixed.wav", iter([x, x[:1]]), 48000)
    with pytest.raises(AudioError, match="without samples"):
        write_reproducible_float_wav(tmp_path / "none.wav", iter([]), 48000)
    with pytest.raises(AudioError, match="as a float WAV"):
        write_reproducible_float_wav(tmp_path / "nan.wav", iter([x, np.full((2, 3), np.nan, np.float32)]), 48000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pieces.wav", "whole.wav"]  # nothing of the refused ones
