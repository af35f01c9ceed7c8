"""The program around the command line: a stop while its libraries load, or one cut short in a
library's own words, exits 130/143 with one line; one after the command has finished leaves its
outcome. Real processes, real signals, sent at the moment named by an import hook."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.paths import ROOT

STOP_DURING_IMPORT = """
import os, signal, sys, time

class StopWhileLoading:
    def find_spec(self, name, path, target=None):
        if name == "plugin_core.io.outputs":
            sys.meta_path.remove(self)
            if {converted}:  # a library that turns the interrupt into its own ImportError
                try:
                    os.kill(os.getpid(), signal.{signal})
                    time.sleep(5)
                except BaseException as exc:
                    raise ImportError("the library failed to load") from exc
            os.kill(os.getpid(), signal.{signal})
            time.sleep(5)
        return None

sys.meta_path.insert(0, StopWhileLoading())
from host_scripts.program import run
sys.argv = ["countertrack", "--version"]
sys.exit(run())
"""


def _run(script: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("converted", [False, True])
@pytest.mark.parametrize(
    ("stop", "code", "line"), [("SIGTERM", 143, "countertrack: stopped"), ("SIGINT", 130, "countertrack: interrupted")]
)
def test_a_stop_while_the_command_line_loads_is_one_line_and_its_exit_code(stop, code, line, converted):
    done = _run(STOP_DURING_IMPORT.format(signal=stop, converted=converted))
    assert (done.returncode, done.stderr.strip(), done.stdout) == (code, line, "")


def test_a_stop_after_the_command_finished_leaves_its_outcome():
    done = _run(
        """
        import os, signal, sys, time
        from host_scripts.program import run
        sys.argv = ["countertrack", "--version"]
        code = run()
        os.kill(os.getpid(), signal.SIGTERM)  # while the interpreter shuts down
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)
        sys.exit(code)
        """
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("countertrack ")


def test_python_dash_m_and_the_installed_command_run_the_same_program():
    done = subprocess.run([sys.executable, "-m", "host_scripts", "--version"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("countertrack ")
    scripts = (ROOT / "pyproject.toml").read_text()
    assert 'countertrack = "host_scripts.program:run"' in scripts


@pytest.mark.parametrize(
    ("stop", "code", "line"), [("SIGTERM", 143, "countertrack: stopped"), ("SIGINT", 130, "countertrack: interrupted")]
)
def test_a_stop_that_a_library_turns_into_its_own_error_is_reported_as_the_stop(stop, code, line):
    """A command's lazy import cut short by a stop, failing in the library's words: not a bug of ours."""
    script = STOP_DURING_IMPORT.format(signal=stop, converted=True).replace("plugin_core.io.outputs", "plugin_core.bundle.load")
    script = script.replace('["countertrack", "--version"]', '["countertrack", "render", "a.wav", "-o", "b.wav"]')
    done = _run(script)
    assert (done.returncode, done.stderr.strip(), done.stdout) == (code, line, "")


@pytest.mark.parametrize(
    ("stop", "code", "line"), [("SIGTERM", 143, "countertrack: stopped"), ("SIGINT", 130, "countertrack: interrupted")]
)
def test_a_stop_while_the_arguments_are_parsed_is_one_line_and_its_exit_code(stop, code, line):
    """Between the command line's import and the command's own stop handling (argparse at work)."""
    done = _run(
        f"""
        import argparse, os, signal, sys, time
        real = argparse.ArgumentParser.parse_args

        def parse_then_stop(self, *args, **kwargs):
            os.kill(os.getpid(), signal.{stop})
            time.sleep(5)

        argparse.ArgumentParser.parse_args = parse_then_stop
        from host_scripts.program import run
        sys.argv = ["countertrack", "--version"]
        sys.exit(run())
        """
    )
    assert (done.returncode, done.stderr.strip(), done.stdout) == (code, line, "")


@pytest.mark.slow  # a real render stopped at many moments: over ten seconds
def test_a_stop_python_cannot_raise_where_it_lands_takes_effect_as_the_command_ends(tmp_path):
    """A stop delivered inside a finalizer (the garbage collector's, in a library) is not printed as an
    ignored exception and not lost: the command ends as stopped (here its outputs were all in place
    by then, so it says it kept them and exits 0)."""
    done = _run(
        f"""
        import signal, sys, weakref
        import plugin_core.render.offline as offline
        from tests.bundles import RATE, make_synthetic_bundle, tone_melody
        from plugin_core.io.audio import write_audio

        bundle = make_synthetic_bundle(__import__("pathlib").Path({str(tmp_path)!r}) / "bundle")
        write_audio({str(tmp_path / "a.wav")!r}, tone_melody(4.0, 120.0), RATE)
        real = offline.render_audio

        class Resource:
            pass

        def render_with_a_finalizer(*args, **kwargs):
            resource = Resource()
            weakref.finalize(resource, signal.raise_signal, signal.SIGTERM)
            del resource  # the finalizer runs here: the stop is raised inside it
            return real(*args, **kwargs)

        offline.render_audio = render_with_a_finalizer
        from host_scripts.program import run
        sys.argv = ["countertrack", "render", {str(tmp_path / "a.wav")!r}, "--bundle", str(bundle), "-o", {str(tmp_path / "b.wav")!r}]
        sys.exit(run())
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == f"countertrack: stopped once the outputs were complete; kept {tmp_path / 'b.wav'}"
    assert (tmp_path / "b.wav").is_file()
