"""Entry point of the ``countertrack`` command: subcommands, exit codes and one-line errors.

Exit codes: 0 success, 1 the work failed (a CountertrackError, printed as one line), 2 usage error
(one line too), 3 a bug in countertrack (an InternalError, or any other exception: one line that says
so; COUNTERTRACK_DEBUG=1 shows the traceback), 130 interrupted (Ctrl-C), 143 stopped (SIGTERM). A stop
is raised as an exception, so temporary files are removed and child processes stopped on the way out.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from host_scripts import bench_cmd, corpus_cmd, render_cmd, train_cmd
from host_scripts.extras import missing_extra
from host_scripts.live import command as live_cmd
from host_scripts.options import DefaultsShown
from host_scripts.program import stop_outcome
from host_scripts.progress import set_verbosity
from plugin_core import __version__
from plugin_core.errors import CountertrackError, InternalError
from plugin_core.io.atomic import command_started
from plugin_core.io.outputs import command_outputs
from plugin_core.io.stopping import Terminated, sigterm_raises, stop_signal

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUG = 0, 1, 2, 3


class OneLineParser(argparse.ArgumentParser):
    """argparse with its usage errors on one line (the problem and where to find help), exit code 2,
    and every option's default in its help (sub-commands' parsers are of this class too)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", DefaultsShown)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="countertrack",
        description=(
            "Learn how one track (A, the guide) is answered by another (B, the response) from paired "
            "stems, and render a new B for a new A out of real B recordings."
        ),
        epilog="Run 'countertrack COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"countertrack {__version__}")
    _add_verbosity(parser, default=0)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    corpus_cmd.register(commands)
    train_cmd.register(commands)
    render_cmd.register(commands)
    live_cmd.register(commands)
    bench_cmd.register(commands)
    _verbosity_everywhere(commands)
    return parser


def _add_verbosity(parser: argparse.ArgumentParser, default: object) -> None:
    """-q (errors only) and -v (a line per step instead of progress bars) on ``parser``."""
    chatter = parser.add_mutually_exclusive_group()
    chatter.add_argument(
        "-q",
        "--quiet",
        action="store_const",
        const=-1,
        dest="verbosity",
        default=default,
        help="errors only on stderr: no progress bars, no per-epoch or per-step lines",
    )
    chatter.add_argument(
        "-v",
        "--verbose",
        action="store_const",
        const=1,
        dest="verbosity",
        default=default,
        help="a line per step on stderr instead of a progress bar (per epoch when training)",
    )


def _verbosity_everywhere(commands: argparse._SubParsersAction) -> None:
    """-q/-v after the command name too (``countertrack render a.wav -o b.wav -q``); not given there,
    the value before it stands."""
    for sub in commands.choices.values():
        _add_verbosity(sub, default=argparse.SUPPRESS)
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction):
                _verbosity_everywhere(action)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # a usage error (printed), --help or --version: returned like every other outcome
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for a command that runs itself again (train --nproc)
    command_started()
    set_verbosity(args.verbosity)
    with command_outputs() as written:
        try:
            with sigterm_raises():
                code = int(args.run(args) or EXIT_OK)
            if stop_signal():  # a stop that Python could not raise where it arrived (in a finalizer): it counts now
                return _stopped(written)
            return code
        except CountertrackError as exc:
            print(f"countertrack: error: {' '.join(str(exc).split())}", file=sys.stderr)
            return exc.exit_code
        except ModuleNotFoundError as exc:  # a lazy import of the train extra that the command's own check did not cover
            error = missing_extra(exc, args.command)
            if error is None:
                if stop_signal():  # an import cut short by a stop
                    return _stopped(written)
                raise
            print(f"countertrack: error: {error}", file=sys.stderr)
            return EXIT_FAILED
        except KeyboardInterrupt:  # Ctrl-C, and SIGTERM (Terminated)
            return _stopped(written)
        except Exception as exc:  # anything else is our bug: say so in one line, never blame the user's files
            if stop_signal():  # ... unless a stop cut something short (an import, a library's call) and it failed
                return _stopped(written)
            return _bug(exc)


def _stopped(written: list[Path]) -> int:
    """The outcome of a stop: 130 (Ctrl-C) or 143 (SIGTERM) with nothing changed; or, when the command's
    outputs were all in place before the stop arrived (``written``), success: the work is complete, and kept."""
    terminated = isinstance(sys.exc_info()[1], Terminated) or stop_signal() == signal.SIGTERM
    message, code = stop_outcome(written, terminated)
    print(message, file=sys.stderr)
    return code


def _bug(exc: BaseException) -> int:
    if os.environ.get("COUNTERTRACK_DEBUG"):
        raise exc
    detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
    print(f"countertrack: error: {InternalError(detail + ' (COUNTERTRACK_DEBUG=1 shows where)')}", file=sys.stderr)
    return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
