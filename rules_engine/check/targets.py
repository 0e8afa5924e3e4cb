"""Target options, checked at load time by whoever knows the target types.

Position in the pipeline::

    RuleSetIR ──check──▶ … ──**check_target_options(rs, catalog)**──▶ diagnostics (E60x)

The check stage knows no adapter: the caller injects a :class:`TargetCatalog`
(``rules_engine.deliver.AdapterRegistry`` is the real one: a JSON Schema per
target type, built-in or plugin).  Problems come back as pointers into a
target's options and are placed with ``Target.option_span``, which both
rule-file formats fill, so a YAML file and its rule-language twin get the same
codes at the same places.  Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from rules_engine.model import ir
from rules_engine.model.codes import Code
from rules_engine.model.errors import Diagnostic

__all__ = ["OptionProblem", "TargetCatalog", "check_target_options"]


@dataclass(frozen=True, slots=True)
class OptionProblem:
    """One problem with a target's options: ``code`` filled with ``args``, at ``pointer``
    (``()`` is the target itself; ``at_key`` points at the option's name, not its value)."""

    code: Code
    pointer: tuple[str | int, ...]
    args: Mapping[str, Any] = field(default_factory=dict)
    at_key: bool = False
    notes: tuple[str, ...] = ()


class TargetCatalog(Protocol):
    """The target types a loader accepts, and the check of each one's options."""

    def types(self) -> frozenset[str]: ...

    def check_options(self, type: str, options: Mapping[str, Any]) -> Sequence[OptionProblem]: ...


def check_target_options(rs: ir.RuleSetIR, catalog: TargetCatalog) -> list[Diagnostic]:
    """E60x for every target of a known type whose options its type refuses (unsorted)."""
    known = catalog.types()
    out: list[Diagnostic] = []
    for t in rs.targets:
        if t.type not in known:
            continue  # E304 (unknown type) is the check stage's
        for p in catalog.check_options(t.type, ir.thaw(t.options)):
            span = t.span if not p.pointer else t.option_span(p.pointer, key=p.at_key)
            out.append(p.code.at(span, notes=p.notes, **p.args))
    return out
