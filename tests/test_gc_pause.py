"""The garbage collector held off during a load (model/gc_pause.py): nesting, threads, restoring."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

import rules_engine
from rules_engine.model.gc_pause import gc_paused

_RULES = "targets: {o: {type: stdout}}\nrules: [{name: r, when: a == 1, targets: [o]}]\n"


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_off_inside_and_back_on_after() -> None:
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_nested_blocks_keep_it_off_until_the_outer_one_ends() -> None:
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_back_on_after_an_exception() -> None:
    with pytest.raises(ValueError), gc_paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_left_off_when_it_was_off_before() -> None:
    gc.disable()
    with gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()
    gc.enable()


def test_overlapping_blocks_in_two_threads() -> None:
    """Thread A starts, B starts, A ends (still off: B holds it), B ends (on again)."""
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def a() -> None:
        with gc_paused():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def b() -> None:
        a_in.wait(5)
        with gc_paused():
            b_in.set()
            a_out.wait(5)
            seen["after A ended"] = gc.isenabled()

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"after A ended": False}
    assert gc.isenabled()


def test_load_and_a_failed_load_leave_the_collector_on() -> None:
    rules_engine.loads(_RULES)
    assert gc.isenabled()
    with pytest.raises(rules_engine.RuleError):
        rules_engine.loads("rules: [{name: r, when: 'a ==', targets: [o]}]\n")
    assert gc.isenabled()
