"""The one small emitter the code generators share: lines of Python source, then loading them.

Position: under every generator of ``compile/`` (``codegen*.py`` and ``tables.py``
for ``match``, ``decode.py`` for the partial decoder, ``cel_emit.py`` for
translated CEL).  :class:`Lines` builds indented source; :class:`Writer` adds
the constants the source names (bound once into the namespace it runs in);
:func:`load` compiles it under a file name of its own and registers the text
with :mod:`linecache`, so a traceback into generated code shows the generated
line, and ``rules-engine compile --show source`` prints the very text that was
compiled.

The file name is the content's hash (``<rules-engine match 3f2a…>``): the same
source is registered once however often it is compiled (a reload of unchanged
rules adds nothing).  At most :data:`MAX_REGISTERED` generated sources stay in
linecache, the oldest dropped first, so a long-running sidecar that reloads edited
rules (or a console sandbox compiling drafts) does not grow without bound; a
traceback into code that old shows no source line, nothing else changes.
"""

from __future__ import annotations

import hashlib
import linecache
from collections import OrderedDict
from typing import Any

__all__ = ["MAX_REGISTERED", "Lines", "Writer", "load"]

MAX_REGISTERED = 512
"""Generated sources kept in linecache at most (a bound, like an lru_cache's: invisible to callers)."""

_registered: OrderedDict[str, None] = OrderedDict()


class Lines:
    """Python source being written, one line at a time, four spaces per indent level."""

    __slots__ = ("lines",)

    def __init__(self) -> None:
        self.lines: list[str] = []

    def emit(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)

    def comment(self, indent: int, text: str) -> None:
        """A ``#`` comment on one line (line breaks in ``text`` become spaces, so it cannot end early;
        any other character Python source cannot hold — NUL, a lone surrogate — is escaped, as a rule
        name or condition may carry one: found by the fuzzer)."""
        flat = " ".join(text.split())
        safe = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in flat)
        self.lines.append("    " * indent + "# " + safe)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


class Writer(Lines):
    """Lines of source and the constants they name: ``const`` binds a value to a global name once
    (the same object, the same name); ``ns`` is the namespace the source is then loaded into."""

    __slots__ = ("ids", "ns")

    def __init__(self) -> None:
        super().__init__()
        self.ns: dict[str, Any] = {}
        self.ids: dict[int, str] = {}

    def const(self, value: Any, prefix: str) -> str:
        """A global name bound to ``value`` (the same object is bound once)."""
        key = id(value)
        found = self.ids.get(key)
        if found is not None and self.ns[found] is value:
            return found
        name = f"{prefix}{len(self.ns)}"
        self.ns[name] = value
        self.ids[key] = name
        return name


def load(source: str, kind: str, namespace: dict[str, Any]) -> str:
    """Compile ``source``, register it with linecache, run it in ``namespace``; return its file name."""
    digest = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    filename = f"<rules-engine {kind} {digest}>"
    # (size, mtime, lines, name); mtime None: linecache.checkcache never drops the entry.
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    _registered[filename] = None
    _registered.move_to_end(filename)
    while len(_registered) > MAX_REGISTERED:
        old, _ = _registered.popitem(last=False)
        linecache.cache.pop(old, None)
    exec(compile(source, filename, "exec"), namespace)  # our own generated source, built from the IR only
    return filename
