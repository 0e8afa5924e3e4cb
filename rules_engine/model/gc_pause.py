"""The cyclic garbage collector held off while a rule set is loaded and compiled.

Loading 10,000 rules makes a few million objects that all stay alive (values, positions,
parse trees, IR, compiled structures) and almost none that form cycles.  With the collector
on, each growth of the heap by a quarter triggers a full collection that walks every object
again: measured with ``benchmarks/load_bench.py``, about 40% of a big load went to the
collector and freed nothing.  Reference counting still frees everything that is not in a
cycle while the collector is held off, so memory use of a load hardly changes.

:func:`gc_paused` holds the collector off for its ``with`` block.  The collector is global
to the interpreter, so the block counts its holders: nested or concurrent blocks (a load
inside a load, two threads loading) keep it off until the last one ends, and only then
is it switched back on, and only if it was on when the first one began.  Invariant: the
collector is never left off after every block has ended, unless it was off before.

Trade-off: while a block runs, cyclic garbage made by other threads (a sidecar routing
events during a reload) waits for the collector until the load ends, a few seconds at
most for the biggest rule sets a file size limit lets through.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]

_lock = threading.Lock()
_holders = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector off for the block (nestable, thread-safe)."""
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
