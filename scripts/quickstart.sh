#!/usr/bin/env bash
# The main job, from a fresh machine: set up, then answer the example melody (presets/example_a.flac,
# a Bach soprano line on flute) with the shipped default bundle: a bass line made of real bass
# recordings, written to OUT/B.wav, with OUT/mix.wav (A + B) and OUT/decisions.mid beside it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup.sh"
out="${1:-$root/out/quickstart}"
mkdir -p "$out"
"$root/.venv/bin/countertrack" render "$root/presets/example_a.flac" -o "$out/B.wav" --mix "$out/mix.wav" \
  --midi-out "$out/decisions.mid" --force
echo "listen: $out/B.wav (the answer) and $out/mix.wav (melody + answer)"
