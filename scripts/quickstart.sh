#!/usr/bin/env bash
# The main job, from a fresh machine: set up, then build a small corpus of Bach chorales
# (soprano on flute -> bass on acoustic bass) rendered to aligned stems, and summarise it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
out=${1:-out/quickstart}
.venv/bin/countertrack corpus from-scores --composer bach --limit 8 --guide soprano --response bass -o "$out/corpus"
.venv/bin/countertrack corpus info "$out/corpus"
