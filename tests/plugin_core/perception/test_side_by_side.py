"""side_by_side: one function over many segments on a few threads, results in the items' order."""

from __future__ import annotations

import threading
import time

import pytest

from plugin_core.perception.side_by_side import side_by_side


def test_results_keep_the_items_order_when_later_items_finish_first():
    def slow_first(index: int) -> int:
        time.sleep(0.002 * (8 - index))  # item 0 finishes last
        return index * index

    assert side_by_side(slow_first, list(range(8)), workers=2) == [i * i for i in range(8)]


def test_the_items_run_on_up_to_the_given_number_of_threads():
    seen: set[str] = set()
    both_running = threading.Barrier(2, timeout=5.0)

    def note(index: int) -> int:
        seen.add(threading.current_thread().name)
        if index < 2:
            both_running.wait()  # the first two meet: they run at once, or this times out
        return index

    assert side_by_side(note, list(range(6)), workers=2) == list(range(6))
    assert len(seen) == 2 and all(name.startswith("countertrack-perception") for name in seen)
    seen.clear()
    side_by_side(lambda index: seen.add(threading.current_thread().name), [0, 1, 2], workers=1)
    assert seen == {threading.current_thread().name}  # one worker: the caller's own thread, no pool


def test_an_error_in_one_item_is_raised_to_the_caller():
    def fails_on_three(index: int) -> int:
        if index == 3:
            raise ValueError("item 3")
        return index

    with pytest.raises(ValueError, match="item 3"):
        side_by_side(fails_on_three, list(range(6)), workers=2)
