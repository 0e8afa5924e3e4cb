"""One canonical layout per rule format, comments kept, meaning kept (``rules-engine fmt``).

Position in the pipeline::

    .rules text ──parse──▶ IR ──print_rules (+ comments, item order)──▶ text'
    .yaml  text ──ruamel.yaml round trip (fixed indentation)──────────▶ text'
                                    text' ──parse──▶ IR'   (IR' == IR, or E702 and nothing is written)

The rule language is printed from its IR (rules_engine/author/print_rules.py),
with the comments and item order the IR does not keep taken from
:func:`rules_engine.syntax.dsl_layout.dsl_layout`.  YAML goes through
ruamel.yaml's round-trip mode, which keeps comments, key order and flow or
block style and normalises indentation (mappings by 2, sequence items by 2
under their key) and spacing; quotes are kept as written, because the loader
reads YAML 1.1 (``'yes'`` must stay a string) and ruamel writes YAML 1.2.

Whatever the layout does, the formatted text is loaded again and its IR
compared with the input's: a difference is E702 and the file is left alone.

Pure: works on :class:`~rules_engine.source.Source` values.
"""

from __future__ import annotations

import io

from ruamel.yaml import YAML

from rules_engine.author.convert import inexpressible, reload_check
from rules_engine.author.pattern_text import Inexpressible
from rules_engine.author.print_rules import print_rules
from rules_engine.loader import parse_source
from rules_engine.model import codes
from rules_engine.model.errors import Diagnostic
from rules_engine.model.source import Source, Span
from rules_engine.syntax.dsl_layout import dsl_layout


def _yaml_layout(text: str) -> str:
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    yaml.preserve_quotes = True
    yaml.brace_single_entry_mapping_in_flow_sequence = True  # [{prefix: a}], as EventBridge users write it
    doc = yaml.load(text)
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def format_source(source: Source, fmt: str) -> tuple[str | None, list[Diagnostic]]:
    """The canonical text of ``source`` (``fmt`` is ``"yaml"`` or ``"dsl"``), or the diagnostics that stop it.

    A file with errors is not formatted (its errors are returned).
    """
    rs, diags = parse_source(source, fmt)
    if rs is None:
        return None, diags
    if fmt == "dsl":
        layout = dsl_layout(source.text)
        try:
            text = print_rules(rs, layout)
        except Inexpressible as e:
            return None, [inexpressible(e, fmt, source.name)]
        if layout is None:  # cannot happen for a file that lowered; kept honest rather than assumed
            return None, [codes.MEANING_CHANGED.at(Span.point(source.name, 1, 1), tool="fmt",
                                                   detail="the file's layout could not be read")]
    else:
        text = _yaml_layout(source.text.removeprefix("\ufeff"))
    bad = reload_check("fmt", rs, text, fmt, source.name)
    if bad is not None:
        return None, [bad]
    return text, []
