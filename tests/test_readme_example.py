"""The README's Python example runs as written, from a folder that is not the checkout."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np

from plugin_core.io.audio import probe_audio, read_audio, write_audio
from tests.bundles import tone_melody
from tests.paths import ROOT


def readme_python_blocks() -> list[str]:
    """The ```python blocks of README.md, in order."""
    return re.findall(r"^```python\n(.*?)^```", (ROOT / "README.md").read_text(encoding="utf-8"), flags=re.S | re.M)


def test_the_readme_python_example_runs_as_written_from_another_folder(tmp_path):
    blocks = readme_python_blocks()
    assert len(blocks) == 1, "the README should hold one Python example, the one this test runs"
    melody = tone_melody(4.0, 100.0, seed=3)
    write_audio(tmp_path / "a.wav", np.concatenate([melody, 0.5 * melody]), 44100)  # A: 4 s of stereo notes
    result = subprocess.run(
        [sys.executable, "-c", blocks[0]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # this checkout's code, not an installed copy
    assert result.returncode == 0, result.stderr[-3000:]
    latency = int(result.stdout.split()[0])
    assert latency > 0
    a, b = probe_audio(tmp_path / "a.wav"), read_audio(tmp_path / "b.wav")
    assert (b.num_samples, b.sample_rate, b.num_channels) == (a.num_samples, a.sample_rate, a.num_channels)
    assert float(np.sqrt(np.mean(b.samples**2))) > 1e-3  # an answer, not silence
