"""Where the checkout is, for tests that run its scripts or read its files (any test folder depth)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
