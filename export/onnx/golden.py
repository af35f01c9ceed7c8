"""Golden test vectors: what the reference runtime hears, decides and plays for a short input, step by
step, so a native port finds the first place it diverges (docs/bundle-format.md, "Golden test vectors").

One case at the input's own rate (``golden/expected.json``) and one at 48 kHz, or 44.1 kHz when the
input is at 48 (``golden/expected-RATE.json``): the resampler and the rate-dependent analysis are part
of what a port must get right. Beside each: the encoder's input (every segment at the encoder's rate)
and the rendered B, as float32 WAV files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from plugin_core.bundle.load import Bundle, load_bundle
from plugin_core.decision.sampling import allowed_mask, nucleus
from plugin_core.decision.session import DecisionState, decode_step
from plugin_core.io.atomic import write_json_atomic
from plugin_core.io.audio import Audio, read_audio, resample, write_audio, write_reproducible_float_wav
from plugin_core.perception.descriptors import describe_piece
from plugin_core.perception.dsp import rms_db
from plugin_core.perception.labeller import segment_at_encoder_rate
from plugin_core.render.offline import Rendered, render_audio

SECOND_CASE_S = 5.0  # the other rate's input is shorter: the bundle's size has a ceiling


def write_golden_vectors(out: Path, source: Path, seconds: float) -> None:
    """golden/input.wav (an excerpt of ``source``, 16-bit) and its 48 kHz (or 44.1 kHz) twin, each
    with the expected.json of what the runtime makes of it with seed 0 and the bundle's defaults."""
    audio = read_audio(source)
    excerpt = audio.samples[:, : int(seconds * audio.sample_rate)]
    (out / "golden").mkdir(exist_ok=True)
    other_rate = 44100 if audio.sample_rate == 48000 else 48000
    other = resample(excerpt, audio.sample_rate, other_rate)[:, : int(SECOND_CASE_S * other_rate)]
    cases = [
        ("input.wav", "expected.json", excerpt, audio.sample_rate),
        (f"input-{other_rate}.wav", f"expected-{other_rate}.json", other, other_rate),
    ]
    for name, _, samples, rate in cases:
        write_audio(out / "golden" / name, samples, rate, subtype="PCM_16")
    bundle = load_bundle(out)
    for name, expected, _, _ in cases:
        golden = read_audio(out / "golden" / name)
        suffix = name.removeprefix("input").removesuffix(".wav")  # "" or "-48000"
        vector, encoder_input, output = golden_vector(bundle, golden, f"golden/{name}")
        vector["encoder_input"]["file"] = f"golden/encoder-input{suffix}.wav"
        vector["output"] = f"golden/output{suffix}.wav"
        write_reproducible_float_wav(out / vector["encoder_input"]["file"], encoder_input[None, :], bundle.perception.spec.sample_rate)
        write_reproducible_float_wav(out / vector["output"], output, golden.sample_rate)
        write_json_atomic(out / "golden" / expected, vector)


def golden_vector(bundle: Bundle, a: Audio, input_name: str, seed: int = 0) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """The decisions of a render of ``a`` and the intermediates behind them, segment by segment; with
    the encoder's input (each segment at its rate, zero-padded to ``min_samples``, one after another)
    and the rendered B (channels, samples)."""
    rendered = render_audio(bundle, a, seed=seed)
    boundaries = rendered.boundaries
    spans = list(zip(boundaries[:-1].tolist(), boundaries[1:].tolist()))
    mono = a.samples.mean(axis=0, dtype=np.float32)
    spec = bundle.perception.spec
    embeddings, descriptors, levels, heard = [], [], [], []
    for start, stop in spans:
        segment = segment_at_encoder_rate(mono, a.sample_rate, start, stop, spec)
        heard.append(np.pad(segment, (0, max(0, spec.min_samples - segment.size))))
        embedding, _ = bundle.perception.run(heard[-1][None, :])
        embeddings.append(_floats(embedding[0]))
        levels.append(round(rms_db(mono[start:stop]), 6))
        described = describe_piece(mono, a.sample_rate, start, stop)
        descriptors.append({"pitch_classes": _floats(described.pitch_classes), "onsets": _floats(described.onsets)})
    logits, nuclei = _replayed_steps(bundle, rendered)
    slot_rms = [round(rms_db(rendered.samples[:, start:stop]), 4) for start, stop in spans]
    laid = rendered.laid
    looked = [
        {"segment": d.segment, "at": d.start, "grain": d.grain, "continued": d.continued, "draws": list(d.draws)}
        for d in rendered.decisions
        if d.lead
    ]
    vector: dict[str, Any] = {
        "input": input_name,
        "seed": seed,
        "sample_rate": a.sample_rate,
        "sampling": bundle.sampling_defaults.to_dict(),
        "engine": bundle.engine_defaults.to_dict(),
        "boundaries": boundaries.tolist(),
        "a_tokens": [d.a_token for d in laid],
        "b_tokens": [d.b_token for d in laid],
        "played_labels": [d.played_label for d in laid],
        "grains": [d.grain for d in laid],
        "continued": [d.continued for d in laid],
        "output_rms_db": round(rms_db(rendered.samples), 3),
        "encoder_input": {"offsets": np.cumsum([0] + [piece.size for piece in heard]).tolist()},
        "intermediates": {
            "embeddings": embeddings,
            "levels_db": levels,
            "descriptors": descriptors,
            "logits": logits,
            "nucleus": nuclei,
            "draws": [list(d.draws) for d in laid],
            "slot_rms_db": slot_rms,
        },
    }
    if looked:
        vector["late_looks"] = looked
    return vector, np.concatenate(heard), rendered.samples


def _replayed_steps(bundle: Bundle, rendered: Rendered) -> tuple[list[list[float]], list[dict[str, list]]]:
    """Each step's logits and nucleus, replaying the render's decisions through the step graph (the
    played label is fed back, as in the render)."""
    config = bundle.decision_config
    laid = rendered.laid
    heard = [d.a_token for d in laid]
    # an anticipating decision records the A token it heard, one segment late (none at the first);
    # decode_step reads the track's own tokens and shifts them itself, and never needs the last one
    a_tokens = np.array(heard[1:] if config.anticipates else heard, dtype=np.int64)
    state = DecisionState(config)
    mask = allowed_mask(config.vocab_size, bundle.memory.labels)
    logits: list[list[float]] = []
    nuclei: list[dict[str, list]] = []
    for decision in laid:

        def replay(step_logits: np.ndarray, played: int = decision.played_label) -> int:
            logits.append(_floats(step_logits))
            labels, probabilities = nucleus(step_logits, bundle.sampling_defaults, mask)
            nuclei.append({"labels": labels.tolist(), "probabilities": _floats(probabilities)})
            return played

        decode_step(bundle.decision, state, a_tokens, replay)
    return logits, nuclei


def _floats(values: np.ndarray) -> list[float]:
    """float32 values as JSON numbers that read back to the same float32."""
    return [float(np.float32(v)) for v in np.asarray(values).reshape(-1)]
