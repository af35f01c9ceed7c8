"""Does B land on A's beats at every tempo? A bundle's audio report (``eval --audio``'s measures) on
its held-out songs, grouped by the tempo each song was rendered at.

The held-out songs are those the bundle's manifest names (``provenance.eval.held_out``), taken from
CORPUS (the bundle's own training corpus, whose pairs record ``tempo_qpm``). Each song is rendered
with the beats found in A, as ``countertrack render`` does without ``--bpm``.

Run: python -m benchmarks.audio_by_tempo CORPUS [--bundle BUNDLE] [--bands 60,90,115,140,181]
"""

from __future__ import annotations

import argparse

import numpy as np

from export.evaluation.audio_report import audio_report
from plugin_core.bundle.load import load_bundle
from plugin_core.bundle.shipped import default_bundle_path
from plugin_core.errors import CountertrackError
from plugin_core.io.corpus import load_corpus


def by_tempo(songs: list[dict], tempo: dict[str, float], edges: list[float]) -> list[dict]:
    """Mean on-beat share and consonance (model, true B, chance) of the songs in each tempo band."""
    rows = []
    for low, high in zip(edges[:-1], edges[1:]):
        band = [s for s in songs if low <= tempo[s["pair_id"]] < high]
        if not band:
            continue

        def mean(measure: str, kind: str, band: list[dict] = band) -> float:
            values = [s[measure][kind] for s in band if s[measure][kind] is not None]
            return float(np.mean(values)) if values else float("nan")

        rows.append(
            {
                "band": f"{low:g}-{high:g} qpm",
                "songs": len(band),
                **{f"{m}_{k}": mean(m, k) for m in ("on_beat", "consonance") for k in ("model", "true", "chance")},
            }
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", help="the bundle's training corpus (its pairs record their tempo)")
    parser.add_argument("--bundle", default=str(default_bundle_path()))
    parser.add_argument("--bands", default="60,90,115,140,181", help="tempo band edges, qpm")
    args = parser.parse_args(argv)
    bundle = load_bundle(args.bundle)
    corpus = load_corpus(args.corpus)
    tempo = {p.id: p.provenance.get("tempo_qpm") for p in corpus.pairs}
    held_out = bundle.manifest["provenance"]["eval"]["held_out"]
    missing = [song for song in held_out if tempo.get(song) is None]
    if missing:
        raise CountertrackError(f"has no pair with a recorded tempo for {', '.join(missing[:3])}", corpus.root)
    report = audio_report(bundle, corpus, held_out, seed=0)
    print("| tempo band | songs | on beat: model / true / chance | consonance: model / true / chance |\n|---|---:|---|---|")
    for row in by_tempo(report["songs"], tempo, [float(x) for x in args.bands.split(",")]):
        print(
            f"| {row['band']} | {row['songs']} | {100 * row['on_beat_model']:.1f} / {100 * row['on_beat_true']:.1f} / "
            f"{100 * row['on_beat_chance']:.1f} % | {100 * row['consonance_model']:.1f} / {100 * row['consonance_true']:.1f} / "
            f"{100 * row['consonance_chance']:.1f} % |"
        )
    print(
        "\nsongs under 60 % on beat: "
        + (
            ", ".join(
                f"{s['pair_id']} at {tempo[s['pair_id']]:g} qpm ({100 * s['on_beat']['model']:.0f} %)"
                for s in report["songs"]
                if s["on_beat"]["model"] is not None and s["on_beat"]["model"] < 0.6
            )
            or "none"
        )
    )


if __name__ == "__main__":
    main()
