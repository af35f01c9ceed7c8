"""A second implementation of docs/bundle-format.md, following the document: it imports numpy,
onnxruntime and the standard library only (nothing of countertrack, no audio library: it reads
WAV files itself and resamples and stretches as steps 8 and 9 say) and decides what a native port
must decide for a bundle's golden input: A's tokens, and per segment the nucleus, the draws, the
grain, its label and whether it continues.

It also lays the chosen grains (step 6) at the output's rate, so B itself can be compared. Run
``python -m tests.reference_host BUNDLE [CASE]`` to print what it decided as JSON. The beat grid is taken
from ``golden/expected.json``: in a plugin the host's transport gives it, so it is not the port's to
compute.
"""

from __future__ import annotations

import json
import math
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime

MASK64 = (1 << 64) - 1


class SplitMix64:
    """Step 5's generator: state = seed; next = mix(state += golden gamma)."""

    def __init__(self, seed: int):
        self.state = seed & MASK64

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def uniform(self) -> float:
        return (self.next() >> 11) * 2.0**-53

    def weighted(self, weights: np.ndarray) -> tuple[int, float]:
        """(the index drawn, the uniform it drew)."""
        cumulative = np.cumsum(np.asarray(weights, dtype=np.float64))
        u = self.uniform()
        target = u * cumulative[-1]
        for index, value in enumerate(cumulative):
            if value > target:
                return index, u
        return len(cumulative) - 1, u


# ---- step 3: perception -------------------------------------------------------------------------


def read_wav(path: Path) -> tuple[np.ndarray, int, int]:
    """A RIFF WAVE file's samples as stored, (channels, n) int32 or float32, its rate and its bits
    per sample (0 for float): format 1 (PCM 16/24/32), 3 (float 32) or extensible with either."""
    data = path.read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a RIFF WAVE file")
    position, layout, raw = 12, None, None
    while position + 8 <= len(data):
        chunk, size = data[position : position + 4], struct.unpack("<I", data[position + 4 : position + 8])[0]
        body = data[position + 8 : position + 8 + size]
        if chunk == b"fmt ":
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == 0xFFFE:  # extensible: the real format is the first two bytes of the sub-format GUID
                tag = struct.unpack("<H", body[24:26])[0]
            layout = (tag, channels, rate, bits)
        elif chunk == b"data":
            raw = body
        position += 8 + size + (size & 1)
    if layout is None or raw is None:
        raise ValueError(f"{path}: no fmt or data chunk")
    tag, channels, rate, bits = layout
    if tag == 3 and bits == 32:
        return np.frombuffer(raw, "<f4").reshape(-1, channels).T.copy(), rate, 0
    if tag != 1 or bits not in (16, 24, 32):
        raise ValueError(f"{path}: format {tag} with {bits} bits is not one this host reads")
    if bits == 24:
        triples = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        values = (triples[:, 0] << 8 | triples[:, 1] << 16 | triples[:, 2] << 24) >> 8
    else:
        values = np.frombuffer(raw, "<i2" if bits == 16 else "<i4").astype(np.int32)
    return values.reshape(-1, channels).T.copy(), rate, bits


def resample(x: np.ndarray, rate: int, to_rate: int) -> np.ndarray:
    """Step 8: (channels, n) float32 at ``rate`` as float32 at ``to_rate``."""
    x = np.atleast_2d(np.asarray(x, np.float32))
    if rate == to_rate:
        return x.copy()
    g = math.gcd(rate, to_rate)
    up, down = to_rate // g, rate // g
    c = 0.92 * min(1.0, up / down)
    reach = math.ceil(12 / c)
    weights = np.empty((up, 2 * reach))
    for p in range(up):
        tau = (np.arange(2 * reach) - reach + 1) - p / up
        u = tau / reach
        y = np.pi * (c * tau)
        sinc = np.sin(y) / np.where(y == 0, 1.0, y)
        sinc[y == 0] = 1.0
        w = c * sinc * (0.42 + 0.5 * np.cos(np.pi * u) + 0.08 * np.cos(2 * np.pi * u))
        total = 0.0
        for value in w:
            total += value
        weights[p] = w / total
    n = x.shape[1]
    k = np.arange(int(round(n * to_rate / rate)), dtype=np.int64)
    i = k * down // up
    phase = k * down - i * up
    padded = np.zeros((x.shape[0], n + 4 * reach + 2), np.float64)
    padded[:, 2 * reach : 2 * reach + n] = x  # input index m is column m + 2 * reach
    out = np.zeros((x.shape[0], k.size), np.float64)
    for j in range(2 * reach):
        out += weights[phase, j] * padded[:, i - reach + 1 + j + 2 * reach]
    return out.astype(np.float32)


def decimate(x: np.ndarray, rate: int) -> tuple[np.ndarray, float, int]:
    q = max(1, rate // 8000)
    if q == 1:
        return x.astype(np.float64), float(rate), 1
    n = np.arange(-8 * q, 8 * q + 1)
    taps = np.sinc(0.9 * n / q) * np.hamming(n.size)
    return np.convolve(x.astype(np.float64), taps / taps.sum(), mode="same")[::q], rate / q, q


def yin_frames(x: np.ndarray, r: float) -> list[tuple[float, float]]:
    """(hz or NaN, frame RMS) per frame, by the direct difference function."""
    frame, hop = int(round(0.064 * r)), int(round(0.02 * r))
    min_lag, max_lag = max(2, int(r / 2500)), int(r / 30)
    if x.size < frame:
        x = np.pad(x, (0, frame - x.size))
    padded = np.pad(x.astype(np.float64), (0, frame + max_lag))
    frames = []
    for begin in range(0, x.size - frame + 1, hop):
        head = padded[begin : begin + frame]
        d = np.array([np.sum((head - padded[begin + tau : begin + tau + frame]) ** 2) for tau in range(max_lag + 1)])
        cmnd = np.ones(max_lag + 1)
        running = np.cumsum(d[1:])
        cmnd[1:] = d[1:] * np.arange(1, max_lag + 1) / np.maximum(running, 1e-12)
        search = cmnd[min_lag:max_lag]
        below = np.flatnonzero(search < 0.15)
        i = int(below[0]) if below.size else int(np.argmin(search))
        while i + 1 < search.size and search[i + 1] < search[i]:
            i += 1
        tau = i + min_lag
        left, centre, right = cmnd[max(tau - 1, 1)], cmnd[tau], cmnd[min(tau + 1, max_lag)]
        curvature = left - 2 * centre + right
        shift = float(np.clip(0.5 * (left - right) / curvature, -1, 1)) if abs(curvature) > 1e-12 else 0.0
        rms = float(np.sqrt(np.sum(head**2) / frame))
        voiced = min(max(centre, 0.0), 1.0) < 0.35 and rms >= 1e-4
        frames.append((r / (tau + shift) if voiced else float("nan"), rms))
    return frames


def onset_profile(x: np.ndarray, start: int, stop: int, r: float) -> np.ndarray:
    block = max(1, int(round(0.01 * r)))
    first = max(0, start - block)
    count = (stop - first) // block
    out = np.zeros(4)
    if count < 2:
        return out
    energy = np.mean(x[first : first + count * block].reshape(count, block) ** 2, axis=1)
    smoothed = np.array([np.sum(energy[max(0, k - 3) : k + 1]) / 4 for k in range(count)])
    level = 10 * np.log10(smoothed + 1e-10)
    for k in range(1, count):
        rise = max(level[k] - level[k - 1] - 3.0, 0.0)
        position = (first + (k + 0.5) * block - start) / max(1, stop - start)
        if 0 <= position < 1:
            out[min(int(position * 4), 3)] += rise
    return out / out.sum() if out.sum() > 0 else out


def descriptor(mono: np.ndarray, rate: int, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """(pitch-class profile, onset profile) of [start, stop), hearing 30 ms before it."""
    first = max(0, start - int(round(0.03 * rate)))
    x, r, q = decimate(mono[first:stop], rate)
    begin = -(-(start - first) // q)
    classes = np.zeros(12)
    for hz, rms in yin_frames(x[begin:], r):
        if np.isfinite(hz):
            classes[int(np.round(69 + 12 * np.log2(hz / 440))) % 12] += np.float32(rms)
    classes = classes / classes.sum() if classes.sum() > 0 else classes
    return classes, onset_profile(x, begin, x.size, r)


# ---- the bundle ---------------------------------------------------------------------------------


@dataclass
class Bundle:
    folder: Path
    manifest: dict
    encoder: onnxruntime.InferenceSession
    decision: onnxruntime.InferenceSession
    grains: dict
    response_centroids: np.ndarray
    intervals: np.ndarray
    onset_table: np.ndarray

    @classmethod
    def open(cls, folder: Path) -> Bundle:
        manifest = json.loads((folder / "manifest.json").read_text())
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # step 3: one intra-op thread per run (sums in one order)
        session = lambda name: onnxruntime.InferenceSession(str(folder / name), options, providers=["CPUExecutionProvider"])  # noqa: E731
        compatibility = np.load(folder / manifest["compatibility"], allow_pickle=False)
        return cls(
            folder,
            manifest,
            session(manifest["perception"]["graph"]),
            session(manifest["decision"]["graph"]),
            {k: np.asarray(v) for k, v in json.loads((folder / manifest["memory"]["grains"]).read_text()).items()},
            np.load(folder / manifest["codebooks"]["response"], allow_pickle=False)["centroids"],
            compatibility["intervals"],
            compatibility["onsets"],
        )


def decide(bundle: Bundle, audio: np.ndarray, rate: int, boundaries: list[int], seed: int, sampling: dict, engine: dict) -> dict:
    """Steps 3 to 5 for a whole A track on a given grid: what was heard and what was played."""
    spec, decision = bundle.manifest["perception"]["spec"], bundle.manifest["decision"]["spec"]
    if decision["lookahead"] < 0 or sampling["greedy"]:
        raise NotImplementedError("this host decides as the default bundle does: a lookahead, sampled")
    mono = audio.mean(axis=1, dtype=np.float32) if audio.ndim == 2 else audio.astype(np.float32)
    segments = list(zip(boundaries[:-1], boundaries[1:]))
    a_tokens, levels, moments, embeddings, heard = [], [], [], [], []
    for start, stop in segments:
        piece = resample(mono[start:stop], rate, spec["sample_rate"])[0]
        piece = np.pad(piece, (0, max(0, spec["min_samples"] - piece.size)))
        heard.append(piece)
        embedding, token = bundle.encoder.run(["embedding", "token"], {"audio": piece[None, :]})
        a_tokens.append(int(token[0]))
        embeddings.append(embedding[0])
        power = float(np.mean(mono[start:stop].astype(np.float64) ** 2)) if stop > start else 0.0
        levels.append(max(-120.0, 10 * np.log10(power + 1e-30)))
        moments.append(descriptor(mono, rate, start, stop))

    vocab, k, context = decision["vocab_size"], max(0, decision["lookahead"]), decision["context"]
    bos, pad = vocab, vocab + 1
    g = bundle.grains
    present = np.unique(g["label"])
    distances = ((bundle.response_centroids[:, None, :] - bundle.response_centroids[None, present, :]) ** 2).sum(axis=2)
    substitute = present[np.argmin(distances, axis=1)]
    successor = [
        i + 1 if i + 1 < g["label"].size and g["track"][i + 1] == g["track"][i] and g["start"][i + 1] == g["end"][i] else -1
        for i in range(g["label"].size)
    ]
    interval_matrix = bundle.intervals[(np.arange(12)[None, :] - np.arange(12)[:, None]) % 12]
    median_db, min_db = float(np.median(g["loudness_db"])), float(np.min(g["loudness_db"]))
    rng = SplitMix64(seed)
    empty = np.zeros((decision["layers"], decision["heads"], 0, decision["head_dim"]), np.float32)
    caches = [empty] * 4
    previous_label, previous_grain, run, recent, a_levels = bos, -1, 0, [], []
    out = {"a_tokens": a_tokens, "b_tokens": [], "played_labels": [], "grains": [], "continued": []}
    out["intermediates"] = {
        "embeddings": embeddings,
        "levels_db": levels,
        "descriptors": [{"pitch_classes": pcs, "onsets": onsets} for pcs, onsets in moments],
        "logits": [],
        "nucleus": [],
        "draws": [],
        "encoder_input": heard,
    }
    a_at = lambda i: a_tokens[i] if i < len(a_tokens) else pad  # noqa: E731
    for t in range(len(segments)):
        a_new = [a_at(i) for i in (range(0, k + 1) if t == 0 else [t + k])]
        feeds = {
            "a_new": np.array(a_new, np.int64),
            "a_aligned": np.array([a_at(t)], np.int64),
            "b_previous": np.array([previous_label], np.int64),
        }
        feeds.update(zip(("self_k", "self_v", "cross_k", "cross_v"), caches))
        logits, *grown = bundle.decision.run(None, feeds)
        caches = [c[:, :, -(context - 1) :] for c in grown[:2]] + [c[:, :, -(context + k - 1) :] for c in grown[2:]]
        # step 4: the nucleus
        scores = logits.astype(np.float64)
        scores[~np.isin(np.arange(vocab), present)] = -np.inf
        scores = scores / sampling["temperature"]
        p = np.exp(scores - scores.max())
        p /= p.sum()
        order = np.argsort(-p, kind="stable")
        keep = order.size if not sampling["top_k"] else min(order.size, sampling["top_k"])
        if sampling["top_p"] < 1:
            keep = min(keep, int(np.argmax(np.cumsum(p[order]) >= sampling["top_p"])) + 1)
        labels = [int(label) for label in order[:keep] if p[label] > 0]
        weights = p[labels] / p[labels].sum()
        out["intermediates"]["logits"].append(logits)
        out["intermediates"]["nucleus"].append({"labels": labels, "probabilities": weights})
        # step 5: the grain
        prior: dict[int, float] = {}
        for label, weight in zip(labels, weights):
            prior[int(substitute[label])] = prior.get(int(substitute[label]), 0.0) + float(weight)
        candidates = np.concatenate([np.flatnonzero(g["label"] == label) for label in prior])
        log_prior = np.concatenate([np.full(np.sum(g["label"] == label), np.log(max(w, 1e-12))) for label, w in prior.items()])
        pcs, onsets = moments[t]
        fit = engine["harmony"] * (
            g["pitch_classes"][candidates] @ (pcs @ interval_matrix) + g["onsets"][candidates] @ (onsets @ bundle.onset_table)
        )
        follower = successor[previous_grain] if previous_grain >= 0 else -1
        continued, draws = False, []
        if follower >= 0 and int(g["label"][follower]) in prior and run < engine["max_run"]:
            clash = float(fit.max() - fit[int(np.flatnonzero(candidates == follower)[0])])
            draws.append(rng.uniform())
            continued = draws[-1] < engine["continuity"] and clash < 1.0
        if continued:
            grain, run = follower, run + 1
        else:
            level = levels[t]
            target = (median_db + level - float(np.mean(a_levels))) if level > -60 and a_levels else (median_db if level > -60 else min_db)
            score = log_prior + fit - engine["loudness_match"] * np.abs(g["loudness_db"][candidates] - target) / 6
            if engine["avoid_recent"] and candidates.size > 1:
                score = score - 4.0 * np.isin(candidates, recent)
            choice, u = rng.weighted(np.exp(score - score.max()))
            grain, run = int(candidates[choice]), 1
            draws.append(u)
        out["intermediates"]["draws"].append(draws)
        if levels[t] > -60:
            a_levels.append(levels[t])
        previous_grain, previous_label = grain, int(g["label"][grain])
        recent = (recent + [grain])[-max(1, engine["avoid_recent"]) :]
        out["b_tokens"].append(previous_label)
        out["played_labels"].append(previous_label)
        out["grains"].append(grain)
        out["continued"].append(bool(continued and t > 0))
    return out


# ---- step 6: laying the grains ------------------------------------------------------------------


class MemoryAudio:
    """memory.wav, 16-bit read as value / 32768 (or float), zeros outside it; mono copied to every channel."""

    def __init__(self, path: Path, channels: int, rate: int):
        """At the output's ``rate``: the whole memory resampled (step 6, by step 8)."""
        values, self.memory_rate, bits = read_wav(path)
        self.samples = values if bits == 0 else values.astype(np.float32) * np.float32(1 / 2 ** (bits - 1))
        if rate != self.memory_rate:
            self.samples = resample(self.samples, self.memory_rate, rate)
        self.rate, self.channels = rate, channels

    def position(self, memory_position: int) -> int:
        return int(round(memory_position * self.rate / self.memory_rate))

    def read(self, start: int, stop: int) -> np.ndarray:
        out = np.zeros((self.samples.shape[0], stop - start), np.float32)
        lo, hi = max(start, 0), min(stop, self.samples.shape[1])
        if hi > lo:
            out[:, lo - start : hi - start] = self.samples[:, lo:hi]
        return out if out.shape[0] == self.channels else np.repeat(out, self.channels, axis=0)


def equal_power(n: int) -> tuple[np.ndarray, np.ndarray]:
    theta = (np.arange(n, dtype=np.float64) + 0.5) / max(1, n) * (np.pi / 2)
    return np.cos(theta).astype(np.float32), np.sin(theta).astype(np.float32)


def linear(n: int) -> tuple[np.ndarray, np.ndarray]:
    ramp = ((np.arange(n, dtype=np.float64) + 0.5) / max(1, n)).astype(np.float32)
    return 1.0 - ramp, ramp


def stretch(memory: MemoryAudio, start: int, ratio: float, length: int, rate: int) -> np.ndarray:
    """Step 9 (WSOLA): ``length`` output samples of the memory from ``start``, ``1 / ratio`` times slower."""
    q = max(1, rate // 11025)
    h = q * max(1, round(0.02 * rate / q))
    tolerance = q * round(0.0125 * rate / q)
    frames = math.ceil(length / h) + 1
    nominal = [round(k * h * ratio) for k in range(frames)]
    first = -h - tolerance - q  # source position of column 0 below
    source = memory.read(start + first, start + nominal[-1] + 3 * h + tolerance + q).astype(np.float64)
    guide = np.rint(np.clip(source.mean(axis=0), -1.0, 1.0) * 32767.0)

    def score(n: int, d: int, want: np.ndarray, stride: int) -> float:
        at = n + d - h - first
        return float(np.dot(guide[at : at + 2 * h : stride], want[::stride]))

    centres = [0]
    for k in range(1, frames):
        want = guide[centres[-1] - first : centres[-1] - first + 2 * h]
        n = nominal[k]
        coarse = [score(n, d, want, q) for d in range(-tolerance, tolerance + 1, q)]
        d0 = -tolerance + q * coarse.index(max(coarse))
        fine = list(range(max(-tolerance, d0 - q + 1), min(tolerance, d0 + q - 1) + 1))
        scores = [score(n, d, want, 1) for d in fine]
        centres.append(n + fine[scores.index(max(scores))])
    r = (np.arange(h) + 0.5) / h
    rising = r * r * (3 - 2 * r)
    falling = 1 - rising
    out = np.zeros((source.shape[0], (frames - 1) * h), np.float32)
    for k in range(frames - 1):
        a, b = centres[k] - first, centres[k + 1] - first
        out[:, k * h : (k + 1) * h] = falling * source[:, a : a + h] + rising * source[:, b - h : b]
    return out[:, :length]


def lay(
    memory: MemoryAudio, grains: dict, picks: list[int], continued: list[bool], boundaries: list[int], rate: int, engine: dict
) -> np.ndarray:
    """Step 6, every gain 1 (no loudness following): B, aligned with A."""
    if engine["follow_loudness"] > 0:
        raise NotImplementedError("this host lays grains without loudness following")
    fade = int(round(engine["crossfade_s"] * rate)) // 2 * 2
    slots = []
    for t, grain in enumerate(picks):
        start, stop = boundaries[t], boundaries[t + 1]
        source = memory.position(int(grains["start"][grain]))
        length = memory.position(int(grains["end"][grain])) - source
        ratio = length / (stop - start) if engine["stretch"] and stop - start > length * 1.02 else 1.0
        slots.append((start, stop, source, ratio, continued[t]))
    stretched: dict[int, np.ndarray] = {}
    margin = fade + 2048

    def audio(t: int, first: int, last: int) -> np.ndarray:
        start, stop, source, ratio, _ = slots[t]
        if ratio == 1.0:
            return memory.read(source + first, source + last)
        if t not in stretched:
            length = stop - start + 2 * margin
            body = stretch(memory, source - int(round(margin * ratio)), ratio, length, rate)
            attack = min(int(round(0.02 * rate)), length - margin)
            blend = min(max(1, int(round(0.01 * rate))), length - margin - attack)
            recorded = memory.read(source - margin, source + attack + blend)
            fade_out, fade_in = linear(blend)
            body[:, : margin + attack] = recorded[:, : margin + attack]
            body[:, margin + attack : margin + attack + blend] = (
                recorded[:, margin + attack :] * fade_out + body[:, margin + attack : margin + attack + blend] * fade_in
            )
            stretched[t] = body
        return stretched[t][:, margin + first : margin + last]

    n = boundaries[-1]
    out = np.zeros((memory.channels, n + fade), np.float32)
    pending = 0
    for t, (start, stop, source, ratio, cont) in enumerate(slots):
        length = stop - start
        last = t == len(slots) - 1
        tail = 0 if last else min(fade, length // 2, (boundaries[t + 2] - boundaries[t + 1]) // 2)
        body_start = 0
        if t == 0:
            body_start = min(fade // 2, length - tail)
            out[:, start : start + body_start] = audio(t, 0, body_start) * equal_power(body_start)[1]
        elif pending:
            p_start, p_stop, p_source, p_ratio, _ = slots[t - 1]
            incoming = audio(t, -pending, 0)
            if cont and ratio == 1.0 and p_ratio == 1.0 and source == p_source + (p_stop - p_start):
                out[:, start - pending : start] = incoming
            else:
                outgoing = audio(t - 1, p_stop - p_start - pending, p_stop - p_start)
                continues = cont and abs(source - (p_source + int(round((p_stop - p_start) * p_ratio)))) <= 2
                fade_out, fade_in = (linear if continues else equal_power)(pending)
                out[:, start - pending : start] = outgoing * fade_out + incoming * fade_in
        out[:, start + body_start : stop - tail] = audio(t, body_start, length - tail)
        if last:
            end = min(fade // 2, length)
            out[:, stop - end : stop] *= equal_power(end)[0]
        pending = tail
    return out[:, :n]


def read_a(path: Path) -> tuple[np.ndarray, int]:
    """Step 1: (samples, channels) float32; b-bit integer PCM reads as float32(value) times the float32
    nearest 1 / (2^(b-1) - 1), in float32."""
    values, rate, bits = read_wav(path)
    if bits == 0:
        return values.T, rate
    return values.T.astype(np.float32) * np.float32(1 / (2 ** (bits - 1) - 1)), rate


def decide_golden(folder: Path, case: str = "expected.json") -> dict:
    """Decide for one golden case of the bundle in ``folder``: its input, grid, seed and settings."""
    bundle = Bundle.open(folder)
    expected = json.loads((folder / "golden" / case).read_text())
    audio, rate = read_a(folder / expected["input"])
    return decide(bundle, audio, rate, expected["boundaries"], expected["seed"], expected["sampling"], expected["engine"])


def render_golden(folder: Path, case: str = "expected.json") -> tuple[dict, np.ndarray]:
    """One golden case decided and laid: the decisions and B (channels, samples), aligned with A."""
    decided = decide_golden(folder, case)
    expected = json.loads((folder / "golden" / case).read_text())
    manifest = json.loads((folder / "manifest.json").read_text())
    channels = read_wav(folder / expected["input"])[0].shape[0]
    memory = MemoryAudio(folder / manifest["memory"]["audio"], channels, expected["sample_rate"])
    grains = {k: np.asarray(v) for k, v in json.loads((folder / manifest["memory"]["grains"]).read_text()).items()}
    b = lay(memory, grains, decided["grains"], decided["continued"], expected["boundaries"], expected["sample_rate"], expected["engine"])
    return decided, b


if __name__ == "__main__":
    decided = decide_golden(Path(sys.argv[1]), *sys.argv[2:3])
    decided.pop("intermediates")
    print(json.dumps(decided))
