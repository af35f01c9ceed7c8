"""Segment encoders: mono audio at the encoder's rate in, one vector per segment out.

Each backend is one ``nn.Module`` taking ``audio`` shaped (batch, samples) and returning
(batch, dim); all are exportable to ONNX with a dynamic sample axis. ``build_encoder`` makes one
from its recorded settings, so training, export and tests all construct encoders the same way.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import torch
from torch import nn

from export.model.encoder_spec import EncoderSpec
from plugin_core.errors import CountertrackError
from plugin_core.perception.dsp import chroma_filterbank, mel_filterbank

ENCODER_SAMPLE_RATE = 16000


def build_encoder(spec: EncoderSpec) -> Encoder:
    """Instantiate the encoder ``spec`` names, in eval mode with gradients off."""
    if spec.backend == "spectral":
        encoder: Encoder = SpectralEncoder(**spec.options)
    elif spec.backend == "wav2vec2":
        if not spec.path:
            raise CountertrackError("the wav2vec2 encoder needs --encoder-path (a local model folder)")
        encoder = Wav2Vec2Encoder(spec.path, layer=spec.layer)
    else:
        raise CountertrackError(f"unknown encoder backend {spec.backend!r}; choose spectral or wav2vec2")
    encoder.eval()
    for parameter in encoder.parameters():
        parameter.requires_grad_(False)
    return encoder


def frame_signal(audio: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """Centred frames (batch, frames, n_fft) of (batch, samples), zero-padded by n_fft / 2 on both
    sides; frame count 1 + samples // hop. Built from hop-sized blocks (``hop`` must divide ``n_fft``)
    so the ONNX graph is reshapes and slices with a dynamic length, no gather."""
    if n_fft % hop:
        raise ValueError("hop must divide n_fft")
    per_frame = n_fft // hop
    samples = audio.shape[1]
    frame_count = samples // hop + 1
    total = (frame_count + per_frame - 1) * hop
    padded = nn.functional.pad(audio, (n_fft // 2, total - samples - n_fft // 2))
    blocks = padded.reshape(audio.shape[0], -1, hop)
    return torch.cat([blocks[:, i : i + frame_count, :] for i in range(per_frame)], dim=2)


class FactoredRealDFT(nn.Module):
    """The DFT of real frames (..., n) for bins 0..n/2, as two small matrix stages (Cooley-Tukey,
    n = n1 * n2) instead of one n x n matrix: a few kB of constants in the ONNX file, not megabytes."""

    c1: torch.Tensor  # buffers: the two stages' cosines and sines and the twiddles between them
    s1: torch.Tensor
    ct: torch.Tensor
    st: torch.Tensor
    c2: torch.Tensor
    s2: torch.Tensor

    def __init__(self, n: int):
        super().__init__()
        n1 = 1 << (int(math.log2(n)) // 2)
        n2 = n // n1
        if n1 * n2 != n:
            raise ValueError("the DFT length must be a power of two")
        self.n, self.n1, self.n2 = n, n1, n2

        def angles(rows: int, cols: int, size: int) -> np.ndarray:
            return 2.0 * np.pi * ((np.arange(rows)[:, None] * np.arange(cols)[None, :]) % size) / size

        stage1 = angles(n1, n1, n1)  # [n1, k1]
        twiddle = angles(n1, n2, n)  # [k1, n2]
        stage2 = angles(n2, n2, n2)  # [n2, k2]
        for name, values in (
            ("c1", np.cos(stage1)),
            ("s1", np.sin(stage1)),
            ("ct", np.cos(twiddle)),
            ("st", np.sin(twiddle)),
            ("c2", np.cos(stage2)),
            ("s2", np.sin(stage2)),
        ):
            self.register_buffer(name, torch.from_numpy(values.astype(np.float32)))

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = frames.shape[:-1]
        x = frames.reshape(-1, self.n1, self.n2)  # x[n1, n2] = frame[n1 * N2 + n2]
        # stage 1 over n1: Y[k1, n2] = sum_n1 x[n1, n2] e^{-2 pi i n1 k1 / N1}
        y_re = torch.einsum("bmn,mk->bkn", x, self.c1)
        y_im = -torch.einsum("bmn,mk->bkn", x, self.s1)
        # twiddle: Y[k1, n2] *= e^{-2 pi i n2 k1 / N}
        t_re = y_re * self.ct + y_im * self.st
        t_im = y_im * self.ct - y_re * self.st
        # stage 2 over n2: X[k1 + N1 k2] = sum_n2 T[k1, n2] e^{-2 pi i n2 k2 / N2}
        x_re = torch.einsum("bkn,nj->bjk", t_re, self.c2) + torch.einsum("bkn,nj->bjk", t_im, self.s2)
        x_im = torch.einsum("bkn,nj->bjk", t_im, self.c2) - torch.einsum("bkn,nj->bjk", t_re, self.s2)
        bins = self.n // 2 + 1
        x_re = x_re.reshape(-1, self.n)[:, :bins].reshape(*shape, bins)
        x_im = x_im.reshape(-1, self.n)[:, :bins].reshape(*shape, bins)
        return x_re, x_im


class SpectralEncoder(nn.Module):
    """Log-mel, chroma, loudness and spectral shape, pooled per segment by mean and standard deviation.

    No learned weights and deterministic, so it needs nothing downloaded; the mel bands hear timbre
    and register, chroma hears pitch class and harmony, loudness hears dynamics, and centroid,
    spread, flatness and roll-off hear brightness and noisiness. Output (batch, 2 * (n_mels + 17)).
    """

    sample_rate: int  # what every encoder tells the rest: its input rate, output size, shortest input
    output_dim: int
    min_samples: int

    mel_bank: torch.Tensor  # buffers (exported with the graph)
    chroma_bank: torch.Tensor
    bin_hz: torch.Tensor
    window: torch.Tensor
    dft: FactoredRealDFT

    def __init__(
        self,
        n_fft: int = 2048,
        hop: int = 512,
        n_mels: int = 40,
        fmin_hz: float = 30.0,
        fmax_hz: float = 7600.0,
        top_db: float | None = None,
    ):
        super().__init__()
        self.sample_rate = ENCODER_SAMPLE_RATE
        self.top_db = top_db  # None: no floor (runs recorded before it existed)
        self.n_fft, self.hop, self.n_mels = n_fft, hop, n_mels
        bins = n_fft // 2 + 1
        self.register_buffer("mel_bank", torch.from_numpy(mel_filterbank(self.sample_rate, n_fft, n_mels, fmin_hz, fmax_hz)))
        self.register_buffer("chroma_bank", torch.from_numpy(chroma_filterbank(self.sample_rate, n_fft)))
        self.register_buffer("bin_hz", torch.linspace(0.0, self.sample_rate / 2, bins))
        self.register_buffer("window", torch.from_numpy(np.hanning(n_fft + 1)[:-1].astype(np.float32)))  # periodic Hann
        self.dft = FactoredRealDFT(n_fft)
        self.frame_features = n_mels + 12 + 1 + 4
        self.output_dim = 2 * self.frame_features
        self.min_samples = 1

    @property
    def feature_groups(self) -> dict[str, tuple[int, int]]:
        """Index ranges of the output by meaning, so the quantizer can balance them."""
        f, m = self.frame_features, self.n_mels
        return {
            "mel": (0, m),
            "chroma": (m, m + 12),
            "loudness": (m + 12, m + 13),
            "shape": (m + 13, f),  # means
            "mel_std": (f, f + m),
            "chroma_std": (f + m, f + m + 12),
            "loudness_std": (f + m + 12, f + m + 13),
            "shape_std": (f + m + 13, 2 * f),
        }

    def _power_spectrum(self, audio: torch.Tensor) -> torch.Tensor:
        frames = frame_signal(audio, self.n_fft, self.hop) * self.window  # (batch, frames, n_fft)
        real, imag = self.dft(frames)
        return (real * real + imag * imag).transpose(1, 2)  # (batch, bins, frames)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        power = self._power_spectrum(audio)
        eps = 1e-10
        mel_db = 10.0 * torch.log10(torch.einsum("mb,nbf->nmf", self.mel_bank, power) + eps)
        if self.top_db is not None:  # an empty band holds only noise (a resampler's stopband, dither): floor it
            mel_db = torch.maximum(mel_db, mel_db.amax(dim=1, keepdim=True) - self.top_db)
        chroma = torch.einsum("cb,nbf->ncf", self.chroma_bank, power)
        chroma = chroma / (chroma.sum(dim=1, keepdim=True) + eps)
        total = power.sum(dim=1, keepdim=True) + eps  # (batch, 1, frames)
        loudness_db = 10.0 * torch.log10(power.mean(dim=1, keepdim=True) + eps)
        hz = self.bin_hz.view(1, -1, 1)
        nyquist = self.sample_rate / 2
        centroid = (power * hz).sum(dim=1, keepdim=True) / total
        spread = torch.sqrt((power * (hz - centroid) ** 2).sum(dim=1, keepdim=True) / total)
        flatness = torch.exp(torch.log(power + eps).mean(dim=1, keepdim=True)) / (power.mean(dim=1, keepdim=True) + eps)
        rolloff_mask = (torch.cumsum(power, dim=1) <= 0.85 * total).to(power.dtype)
        rolloff = (rolloff_mask * (hz[:, 1:2] - hz[:, 0:1])).sum(dim=1, keepdim=True)
        shape = torch.cat([centroid / nyquist, spread / nyquist, flatness, rolloff / nyquist], dim=1)
        frames = torch.cat([mel_db, chroma, loudness_db, shape], dim=1)  # (batch, features, frames)
        mean = frames.mean(dim=2)
        std = torch.sqrt(((frames - mean.unsqueeze(2)) ** 2).mean(dim=2) + 1e-12)
        return torch.cat([mean, std], dim=1)


class Wav2Vec2Encoder(nn.Module):
    """The paper's perception: a frozen Wav2Vec 2.0 through ``transformers``, one hidden layer,
    frames mean-pooled per segment. Audio is normalised to zero mean, unit variance per segment."""

    sample_rate: int  # what every encoder tells the rest: its input rate, output size, shortest input
    output_dim: int
    min_samples: int

    def __init__(self, path: str | os.PathLike[str], layer: int | None = None):
        super().__init__()
        model = load_wav2vec2(path)
        layers = model.config.num_hidden_layers
        if layer is None:
            layer = layers
        if not 0 <= layer <= layers:
            raise CountertrackError(f"layer {layer} does not exist; this model has hidden states 0..{layers}", path)
        if layer < layers and not model.config.do_stable_layer_norm:
            model.encoder.layers = model.encoder.layers[:layer]  # later layers cannot change the output
        self.model = model
        self.layer = layer
        self.sample_rate = ENCODER_SAMPLE_RATE
        self.output_dim = int(model.config.hidden_size)
        self.min_samples = 400  # the convolutional front end's receptive field
        self.feature_groups = {"hidden": (0, self.output_dim)}

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        mean = audio.mean(dim=1, keepdim=True)
        variance = ((audio - mean) ** 2).mean(dim=1, keepdim=True)
        normalised = (audio - mean) / torch.sqrt(variance + 1e-7)
        hidden = self.model(normalised, output_hidden_states=True).hidden_states[self.layer]
        return hidden.mean(dim=1)


def load_wav2vec2(path: str | os.PathLike[str]) -> Any:  # a transformers Wav2Vec2Model
    """``Wav2Vec2Model.from_pretrained`` from a local folder, or from the local cache only: a hub id
    that is not cached fails at once with a message saying how to point at a folder."""
    from transformers import Wav2Vec2Model
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    allow_download = os.environ.get("COUNTERTRACK_ALLOW_DOWNLOAD") == "1"
    try:
        return Wav2Vec2Model.from_pretrained(str(path), local_files_only=not allow_download, attn_implementation="eager")
    except (OSError, ValueError) as exc:
        raise CountertrackError(
            "is neither a local Wav2Vec2 model folder nor in the local Hugging Face cache; download the model "
            "once (e.g. huggingface-cli download ID --local-dir DIR) and pass --encoder-path DIR",
            path,
        ) from exc


Encoder = SpectralEncoder | Wav2Vec2Encoder  # what build_encoder gives
