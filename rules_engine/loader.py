"""Files -> sources -> IR: the I/O edge of the front end.

Position in the pipeline::

    paths ──read──▶ bytes ──decode──▶ Source ──parse/lower──▶ RuleSetIR ──merge + check──▶ diagnostics

Only :func:`read_source` and :func:`collect_files` touch the file system; the
rest is pure and is what :func:`rules_engine.loads` uses for text in memory.

Invariants: a problem with one file never stops the others from being read,
so one run reports every error; diagnostics are returned, never raised.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path

from rules_engine.check.ruleset import BUILTIN_TARGET_TYPES, check
from rules_engine.check.targets import TargetCatalog, check_target_options
from rules_engine.model import codes, ir
from rules_engine.model.errors import Diagnostic, sort_diagnostics
from rules_engine.model.gc_pause import gc_paused
from rules_engine.model.source import Source, Span
from rules_engine.syntax.language import parse_rules
from rules_engine.syntax.lower_yaml import lower_yaml
from rules_engine.syntax.schema import check_schema
from rules_engine.syntax.yaml_loader import load_yaml

YAML_SUFFIXES = (".yaml", ".yml")
DSL_SUFFIXES = (".rules",)
RULE_SUFFIXES = YAML_SUFFIXES + DSL_SUFFIXES
MAX_FILE_BYTES = 4 * 1024 * 1024

ADAPTER_ENTRY_POINT_GROUP = "rules_engine.adapters"
"""The entry-point group through which a plugin package adds a target type (``deliver/`` loads them)."""


@dataclass
class LoadResult:
    """What a load produced: the merged IR (None on errors), every diagnostic, every source."""

    ir: ir.RuleSetIR | None
    diagnostics: list[Diagnostic]
    sources: dict[str, Source] = field(default_factory=dict)
    rules_found: int = 0  # rules in the files that parsed, also when the set as a whole has errors

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]


TEST_SUFFIXES = ("_test.yaml", "_test.yml")
"""Rule unit tests (``rules-engine test``) live beside the rules; they are never rule files of a folder."""


def is_rule_file(name: str) -> bool:
    """A rule file found in a folder walk: a rule suffix, not hidden, not a ``*_test.yaml`` unit test."""
    return format_of(name) is not None and not name.startswith(".") and not name.lower().endswith(TEST_SUFFIXES)


def format_of(name: str) -> str | None:
    low = name.lower()
    if low.endswith(YAML_SUFFIXES):
        return "yaml"
    if low.endswith(DSL_SUFFIXES):
        return "dsl"
    return None


def decode(data: bytes, name: str, max_bytes: int = MAX_FILE_BYTES) -> tuple[Source | None, list[Diagnostic]]:
    """Bytes -> Source.  Rejects oversized files (E104) and invalid UTF-8 (E100, at the bad byte)."""
    if len(data) > max_bytes:
        return None, [codes.FILE_TOO_LARGE.at(Span.point(name, 1, 1), size=len(data), limit=max_bytes)]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        good = data[: e.start].decode("utf-8", errors="replace")
        line = good.count("\n") + 1
        col = len(good) - (good.rfind("\n") + 1) + 1
        return None, [
            codes.NOT_UTF8.at(
                Span.point(name, line, col),
                notes=["save the file as UTF-8"],
                detail=f"byte 0x{data[e.start]:02x} at offset {e.start} cannot be decoded",
            )
        ]
    return Source(name, text.removeprefix("\ufeff")), []


def parse_source(source: Source, fmt: str) -> tuple[ir.RuleSetIR | None, list[Diagnostic]]:
    """One file's text -> its IR (None when it has errors)."""
    if fmt == "dsl":
        if not _meaningful_dsl(source.text):
            return None, [codes.EMPTY_FILE.at(Span.point(source.name, 1, 1))]
        return parse_rules(source)
    doc, locator, diags = load_yaml(source)
    if diags:
        return None, diags
    if doc is None:
        return None, [codes.EMPTY_FILE.at(Span.point(source.name, 1, 1))]
    if not isinstance(doc, dict):
        found = "a list" if isinstance(doc, list) else f"a {type(doc).__name__} value"
        return None, [codes.YAML_NOT_MAPPING.at(locator.value(()), found=found)]
    if not doc:
        return None, [codes.EMPTY_FILE.at(Span.point(source.name, 1, 1))]
    diags = check_schema(doc, locator)
    if any(d.is_error for d in diags):
        return None, diags
    rs, ldiags = lower_yaml(doc, locator)
    if any(d.is_error for d in ldiags):
        return None, ldiags
    return rs, ldiags


def _meaningful_dsl(text: str) -> bool:
    for line in text.splitlines():
        s = line.strip()
        if s and not s.startswith("#"):
            return True
    return False


def _not_regular(path: str) -> str | None:
    """Why ``path`` is not a regular file to read (a FIFO, a socket, a device: reading one can block
    forever), or why it cannot be looked at (a symlink loop); None for a regular file."""
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "a symbolic link that refers to itself (a loop)"
        if not os.path.lexists(path):
            return "no such file or directory"
        return e.strerror or str(e)
    if stat.S_ISREG(mode):
        return None
    kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")
    return f"{kind}: only regular files are read"


def collect_files(paths: list[str]) -> tuple[list[str], list[Diagnostic]]:
    """Files named directly, plus rule files found recursively in folders (sorted, stable).

    Only regular files are read, so nothing ever blocks on a FIFO: one found in a folder (or a
    socket, a device, a symlink loop) is skipped with W101 saying what it is; one named directly
    is E117.
    """
    files: list[str] = []
    diags: list[Diagnostic] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found: list[str] = []
            for root, dirs, names in os.walk(path):
                dirs[:] = [d for d in dirs if not d.startswith(".")]  # .git, .venv, editor folders
                found.extend(str(Path(root) / f) for f in names if is_rule_file(f))
            found.sort()
            regular = []
            for f in found:
                why = _not_regular(f)
                if why is None:
                    regular.append(f)
                else:
                    diags.append(codes.FILE_SKIPPED.at(Span.point(f, 1, 1), path=f, detail=why))
            if not found:
                diags.append(codes.NO_RULE_FILES.at(None, path=p))
            files.extend(regular)
            continue
        why = _not_regular(p)
        if why is None:
            files.append(str(path))
        else:
            diags.append(codes.FILE_UNREADABLE.at(Span.point(p, 1, 1), path=p, detail=why))
    return files, diags


def discover_sets(path: str) -> list[list[str]]:
    """Rule sets under ``path``.

    A file is a rule set of its own.  A folder that directly holds rule files
    is one rule set: those files and every rule file below it, loaded together.
    A folder that holds no rule files directly only groups rule sets: each of
    its sub-folders is looked at the same way.  (So ``rules/prod/`` and
    ``rules/staging/`` are separate sets, while ``rules/targets.yaml`` next to
    ``rules/team-a/`` makes ``rules/`` one set.)
    """
    p = Path(path)
    if not p.is_dir():
        return [[path]]
    direct = [f for f in p.iterdir() if not f.is_dir() and f.exists() and is_rule_file(f.name)]
    if direct:
        return [[path]]  # the folder itself: loading it collects (and reports) what it holds
    sets: list[list[str]] = []
    for sub in sorted(x for x in p.iterdir() if x.is_dir() and not x.name.startswith(".")):
        sets.extend(s for s in discover_sets(str(sub)) if s)
    return sets


def read_source(path: str, max_bytes: int = MAX_FILE_BYTES) -> tuple[Source | None, list[Diagnostic]]:
    why = _not_regular(path)
    if why is not None:
        return None, [codes.FILE_UNREADABLE.at(Span.point(path, 1, 1), path=path, detail=why)]
    try:
        size = os.path.getsize(path)
        if size > max_bytes:
            return None, [codes.FILE_TOO_LARGE.at(Span.point(path, 1, 1), size=size, limit=max_bytes)]
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as e:
        return None, [codes.FILE_UNREADABLE.at(Span.point(path, 1, 1), path=path, detail=e.strerror or str(e))]
    return decode(data, path, max_bytes)


def build(
    parts: list[tuple[Source, str]],
    target_types: frozenset[str] = BUILTIN_TARGET_TYPES,
    catalog: TargetCatalog | None = None,
) -> LoadResult:
    """Pure: parse each source, merge, check.  ``parts`` are (source, format) in load order.

    With ``catalog`` (the delivery layer's adapter registry, injected by the caller), the
    known target types are its types and every target's options are checked by its type (E60x).
    The garbage collector is held off meanwhile (:mod:`rules_engine.model.gc_pause`).
    """
    with gc_paused():
        return _build(parts, target_types, catalog)


def _build(
    parts: list[tuple[Source, str]],
    target_types: frozenset[str],
    catalog: TargetCatalog | None,
) -> LoadResult:
    if catalog is not None:
        target_types = catalog.types()
    diags: list[Diagnostic] = []
    irs: list[ir.RuleSetIR] = []
    sources: dict[str, Source] = {}
    failed = False
    for src, fmt in parts:
        sources[src.name] = src
        rs, ds = parse_source(src, fmt)
        diags.extend(ds)
        if rs is None:
            failed = True
        else:
            irs.append(rs)
    merged = ir.merge(irs)
    # Cross-file checks still run on what did load, so a bad file does not hide
    # problems in the good ones; unknown-target noise from a failed file is the
    # price (those names may live in the broken file), so skip E302 then.
    cdiags = check(merged, target_types)
    if catalog is not None:
        cdiags.extend(check_target_options(merged, catalog))
    if failed:
        cdiags = [d for d in cdiags if d.code not in ("E302", "W301", "W304")]
    diags.extend(cdiags)
    result_ir = None if failed or any(d.is_error for d in diags) else merged
    return LoadResult(result_ir, sort_diagnostics(diags), sources, len(merged.rules))


def known_target_types() -> frozenset[str]:
    """Built-in target types and those registered by installed plugins.

    Only the entry points' names are read (no adapter is imported): a rule file
    may name a plugin's target type, and the check needs nothing more.
    """
    names = {ep.name for ep in entry_points(group=ADAPTER_ENTRY_POINT_GROUP)}
    return BUILTIN_TARGET_TYPES | frozenset(names)


def load_paths(
    paths: list[str],
    max_bytes: int = MAX_FILE_BYTES,
    target_types: frozenset[str] | None = None,
    catalog: TargetCatalog | None = None,
) -> LoadResult:
    """Read, parse and check the rule files under ``paths`` as one rule set (the collector held off)."""
    with gc_paused():
        return _load_paths(paths, max_bytes, target_types, catalog)


def _load_paths(
    paths: list[str],
    max_bytes: int,
    target_types: frozenset[str] | None,
    catalog: TargetCatalog | None,
) -> LoadResult:
    files, diags = collect_files(paths)
    parts: list[tuple[Source, str]] = []
    sources: dict[str, Source] = {}
    for f in files:
        fmt = format_of(f)
        if fmt is None:
            diags.append(codes.UNKNOWN_FORMAT.at(Span.point(f, 1, 1), name=f))
            continue
        src, ds = read_source(f, max_bytes)
        diags.extend(ds)
        if src is None:
            continue
        sources[src.name] = src
        parts.append((src, fmt))
    if target_types is None:
        target_types = catalog.types() if catalog is not None else known_target_types()
    res = build(parts, target_types, catalog)
    res.sources.update(sources)
    all_diags = sort_diagnostics(diags + res.diagnostics)
    ok = res.ir is not None and not any(d.is_error for d in all_diags)
    if not files and not diags:
        all_diags.append(codes.NO_RULE_FILES.at(None, path=", ".join(paths)))
        ok = False
    return LoadResult(res.ir if ok else None, all_diags, res.sources, res.rules_found)
