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


def test_render_says_its_steps_with_v_warns_of_clipping_and_says_neither_with_q(synthetic_bundle, tmp_path, capsys):
    """A loud A with dry and wet at 2 overflows a 16-bit B: a note says so (not an error); -v adds a
    line per step; -q leaves stderr empty. A batch's capped --jobs notice is silent with -q too."""
    import numpy as np

    from host_scripts.cli import main
    from plugin_core.io.audio import write_audio
    from tests.bundles import RATE, tone_melody

    bundle = synthetic_bundle
    a = tmp_path / "a.wav"
    write_audio(a, np.clip(3.0 * tone_melody(3.0, 120.0), -0.99, 0.99), RATE, subtype="PCM_16")
    loud = ["--bundle", str(bundle), "--dry", "2", "--wet", "2", "--bpm", "120"]
    assert main(["-v", "render", str(a), "-o", str(tmp_path / "v.wav"), *loud]) == 0
    err = capsys.readouterr().err.splitlines()
    assert [line.split(" ")[0] for line in err] == ["loaded", "rendering", "decided", "note:"], err
    assert "over full scale" in err[-1] and "v.wav" in err[-1]
    assert main(["-q", "render", str(a), "-o", str(tmp_path / "q.wav"), *loud]) == 0
    assert capsys.readouterr().err == ""
    assert main(["render", str(a), "-o", str(tmp_path / "quiet.wav"), "--bundle", str(bundle), "--bpm", "120"]) == 0
    assert capsys.readouterr().err == ""  # at full scale or under: nothing to say
    assert main(["batch", str(a), "-o", str(tmp_path / "out"), "--bundle", str(bundle), "--bpm", "120", "--jobs", "999", "-q"]) == 0
    assert capsys.readouterr().err == ""
