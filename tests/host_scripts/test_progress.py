"""Progress: bars on a terminal, lines with -v, nothing with -q."""

from __future__ import annotations


def test_verbose_trades_progress_bars_for_lines_and_quiet_silences_both(capsys):
    """-v: no bar even on a terminal, so work that would show one says a line per step instead (the
    training loop prints an epoch line whenever its bar is off); -q: no bar and no line."""
    from host_scripts.progress import log, progress, set_verbosity

    try:
        set_verbosity(1)
        assert progress(range(3), "steps").disable is True
        log("said")
        set_verbosity(-1)
        assert progress(range(3), "steps").disable is True
        log("not said")
    finally:
        set_verbosity(0)
    assert capsys.readouterr().err == "said\n"
