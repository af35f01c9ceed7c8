"""Entry point of the ``countertrack`` command: subcommands, exit codes and one-line errors.

Exit codes: 0 success, 1 the work failed (a CountertrackError, printed as one line), 2 usage error,
130 interrupted (Ctrl-C), 143 stopped (SIGTERM). A stop is raised as an exception, so temporary
files are removed and child processes stopped on the way out.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from host_scripts import bench_cmd, corpus_cmd, live_cmd, render_cmd, train_cmd
from host_scripts.extras import missing_extra
from plugin_core import __version__
from plugin_core.atomic import command_started
from plugin_core.errors import CountertrackError
from plugin_core.stopping import Terminated, sigterm_raises

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="countertrack",
        description=(
            "Learn how one track (A, the guide) is answered by another (B, the response) from paired "
            "stems, and render a new B for a new A out of real B recordings."
        ),
        epilog="Run 'countertrack COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"countertrack {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    corpus_cmd.register(commands)
    train_cmd.register(commands)
    render_cmd.register(commands)
    live_cmd.register(commands)
    bench_cmd.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for a command that runs itself again (train --nproc)
    command_started()
    try:
        with sigterm_raises():
            return int(args.run(args) or EXIT_OK)
    except CountertrackError as exc:
        print(f"countertrack: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Terminated:
        print("countertrack: stopped", file=sys.stderr)
        return 143
    except ModuleNotFoundError as exc:  # a lazy import of the train extra that the command's own check did not cover
        error = missing_extra(exc, args.command)
        if error is None:
            raise
        print(f"countertrack: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("countertrack: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
