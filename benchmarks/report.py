"""Printing benchmark figures beside their targets, the same way in every script."""

from __future__ import annotations


def print_targets(rows: list[tuple[str, float, float, bool]]) -> None:
    """A Markdown table: figure, measured value, target, and 'met' or 'MISSED'."""
    width = max(len(name) for name, *_ in rows)
    print(f"| {'figure':<{width}} | {'measured':>9} | {'target':>7} | verdict |")
    print(f"|{'-' * (width + 2)}|{'-' * 11}|{'-' * 9}|---------|")
    for name, value, target, met in rows:
        print(f"| {name:<{width}} | {value:>9.2f} | {target:>7.2f} | {'met' if met else 'MISSED'} |")
