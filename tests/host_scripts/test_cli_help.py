"""Every command's --help shows each option's default, and -q/-v are taken before or after the command."""

from __future__ import annotations

import argparse

import pytest

from host_scripts.cli import build_parser, main


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*prefix, name))
    if prefix:
        yield prefix, parser


COMMANDS = list(_commands(build_parser()))


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=" ".join)
def test_every_option_with_a_value_says_its_default(path, capsys):
    parser = dict(COMMANDS)[path]
    assert main([*path, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for action in parser._actions:
        takes_value = action.option_strings and action.nargs != 0 and not action.required
        if takes_value and action.default is not argparse.SUPPRESS:
            help_text = " ".join(parser._get_formatter()._expand_help(action).split()) if action.help else ""
            if action.default is None and help_text.startswith(("write ", "also write ")):
                continue  # an extra output: written only when named
            assert "default" in help_text, f"{' '.join(path)} {action.option_strings[-1]}: {help_text!r}"
            assert action.option_strings[-1] in text


def test_quiet_and_verbose_go_before_or_after_the_command(capsys):
    parser = build_parser()
    assert parser.parse_args(["-q", "corpus", "info", "x"]).verbosity == -1
    assert parser.parse_args(["corpus", "info", "x", "-v"]).verbosity == 1
    assert parser.parse_args(["render", "a.wav", "-o", "b.wav"]).verbosity == 0
    assert main(["-q", "-v", "render", "a.wav", "-o", "b.wav"]) == 2


GENERAL = {"-h", "-q", "-v"}  # help and verbosity: every command's own, in argparse's general group


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=" ".join)
def test_every_option_of_a_command_is_in_a_named_group(path):
    parser = dict(COMMANDS)[path]
    left = [a.option_strings[0] for a in parser._optionals._group_actions if a.option_strings and a.option_strings[0] not in GENERAL]
    assert left == [], f"{' '.join(path)}: {left} in the generic options group"


def test_flags_say_no_default(capsys):
    assert main(["--help"]) == 0
    assert "(default: 0)" not in capsys.readouterr().out
