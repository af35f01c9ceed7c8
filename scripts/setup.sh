#!/usr/bin/env bash
# Set up countertrack on a fresh machine: system packages (FluidSynth + a GM SoundFont; JACK's server
# and library for `countertrack live` and its tests), then a virtual environment in .venv with the
# package and its training, test and live extras. Idempotent: a second run with an unchanged
# pyproject.toml does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(fluidsynth fluid-soundfont-gm jackd2 libjack-jackd2-0)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "countertrack setup: installing ${missing[*]} with apt-get" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  # jackd2 asks (debconf) whether to allow real-time priority for the audio group: answer for it
  echo "jackd2 jackd/tweak_rt_limits boolean false" | $sudo debconf-set-selections
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
stamp_value="$(sha256sum pyproject.toml | cut -c1-16)"
stamp=.venv/.countertrack-installed
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$stamp_value" ]; then
  echo "countertrack setup: installing Python packages into .venv (torch pinned to the CPU build 2.13.0)" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "is ignored" >&2 || true
  # torch first and pinned: an unpinned resolve would pull a multi-GB CUDA build.
  .venv/bin/python -m pip install --quiet "torch==2.13.0" 2>&1 | grep -v "is ignored" >&2 || true
  .venv/bin/python -m pip install --quiet -e ".[train,dev,live]" 2>&1 | grep -v "is ignored" >&2 || true
  .venv/bin/python -c "import torch, onnxruntime, pedalboard, music21, jack, rtmidi, plugin_core" \
    || { echo "countertrack setup: installation failed" >&2; exit 1; }
  echo "$stamp_value" > "$stamp"
fi
