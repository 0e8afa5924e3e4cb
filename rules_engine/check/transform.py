"""Load-time checks of transforms that the syntax cannot see: input transformers, ``keep``, envelopes.

Position in the pipeline::

    ir.Transform ──**check_transform**──▶ diagnostics (E370–E374, E129)      (at load time)
         └──────── route/transform.py: compile_transform ──▶ CompiledTransform  (at route time)

Checking needs no compiled form, so validating a rule file never imports a code
generator: this module reads the IR and the input transformer's own parser.
"""

from __future__ import annotations

import re
from typing import Final

from rules_engine.expressions.render import render_path
from rules_engine.model import codes, ir
from rules_engine.model.errors import Diagnostic
from rules_engine.patterns.input_transformer import check_input_transformer

__all__ = ["check_transform"]


# CloudEvents 1.0: the context attributes (not extensions) and the extension name rule.
_CONTEXT_ATTRIBUTES: Final = frozenset(
    {"id", "source", "specversion", "type", "datacontenttype", "dataschema", "subject", "time", "data"}
)
_EXTENSION_NAME: Final = re.compile(r"[a-z0-9]{1,20}")


def check_transform(t: ir.Transform | None) -> list[Diagnostic]:
    """Load-time problems of a transform that the syntax cannot see (input transformer, keep, envelope)."""
    if t is None:
        return []
    out: list[Diagnostic] = []
    for step in t.steps:
        if isinstance(step, ir.InputTransformer):
            out.extend(check_input_transformer(step))
        elif isinstance(step, ir.Keep):
            for p in step.paths:
                cut = next((i for i, s in enumerate(p) if isinstance(s, int)), None)
                if cut is not None:
                    whole = render_path(p[:cut], None, frozenset()) or "$"
                    out.append(codes.KEEP_ARRAY_INDEX.at(
                        step.span, path=render_path(p, None, frozenset()),
                        detail=f"keep names object fields, not array elements; keep the whole array ({whole})",
                    ))
    if t.envelope is not None:
        for name, _ in t.envelope.extensions:
            if name in _CONTEXT_ATTRIBUTES:
                detail = "a CloudEvents context attribute, not an extension"
            elif not _EXTENSION_NAME.fullmatch(name):
                detail = "an extension name has 1 to 20 lowercase letters or digits (CloudEvents 1.0)"
            else:
                continue
            out.append(codes.DSL_BAD_ENVELOPE_ATTR.at(t.envelope.span, name=name, detail=detail))
    return out
