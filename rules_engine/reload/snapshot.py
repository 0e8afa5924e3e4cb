"""What is on disk now: the content fingerprint of the rule files, for change detection.

Position in the pipeline::

    rule files ──**fingerprint**──▶ str ──compare──▶ reload or not (watch.py)
                                     └──▶ was the load torn? (live.py)

The fingerprint of a readable, UTF-8 rule tree equals the ``RuleSet.version``
that loading it produces (``content_version`` over the same sources in the same
order), so "is the serving version what is on disk?" is one string comparison.
Modification times are never used: a Kubernetes ConfigMap update swaps a
symlink and may leave every mtime as it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from rules_engine.loader import MAX_FILE_BYTES, collect_files, read_source
from rules_engine.model.source import Source
from rules_engine.ruleset import content_version

__all__ = ["fingerprint"]


def fingerprint(paths: Sequence[str], max_file_bytes: int = MAX_FILE_BYTES) -> str:
    """The content hash of the rule files under ``paths``, as loading them would see them.

    When a file cannot be read or decoded (it is being replaced, or is broken)
    the result is a different hash, prefixed ``"!"`` so it never equals a
    version: it still changes whenever anything changes.
    """
    files, problems = collect_files([str(p) for p in paths])
    sources: list[Source] = []
    unreadable = hashlib.sha256()
    broken = bool(problems)
    for d in problems:
        unreadable.update(d.message.encode("utf-8"))
    for f in files:
        src, diags = read_source(f, max_file_bytes)
        if src is None:
            broken = True
            unreadable.update(f.encode("utf-8"))
            for d in diags:
                unreadable.update(d.message.encode("utf-8"))
            continue
        sources.append(src)
    version = content_version(sources)
    if not broken:
        return version
    unreadable.update(version.encode("ascii"))
    return "!" + unreadable.hexdigest()[:16]
