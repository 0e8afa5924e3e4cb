"""The rule language's front door: text of a file, an expression or a path -> IR, or diagnostics.

Position in the pipeline::

    rule text ──dsl: parse──▶ parse tree ──lower_dsl, lower_expr──▶ IR ──check──▶ diagnostics
              └─────────────── **language** (this module: both steps) ───────────┘

The parser (:mod:`rules_engine.syntax.dsl`) and the lowering
(:mod:`rules_engine.syntax.lower_dsl`, :mod:`rules_engine.syntax.lower_expr`)
know nothing of each other's callers; this module is the one place that runs
them in sequence, so the imports point one way: language -> lowering -> parser.
"""

from __future__ import annotations

from rules_engine.model.errors import Diagnostic
from rules_engine.model.ir import Expr, Path, RuleSetIR
from rules_engine.model.source import Embedded, Source
from rules_engine.syntax.dsl import clean_text, parse_file_tree, parse_piece, parse_tree, pieces, too_deep
from rules_engine.syntax.dsl_tree import FileSpans
from rules_engine.syntax.lower_dsl import FileLowerer, lower_file
from rules_engine.syntax.lower_expr import lower_expression, lower_path

__all__ = ["parse_expression", "parse_path", "parse_rules"]


def parse_expression(text: str, where: Embedded) -> tuple[Expr | None, list[Diagnostic]]:
    """An expression string (a YAML ``when:`` value or a transform value).

    Spans in the IR and diagnostics are mapped into the enclosing file via
    ``where.span(line, col, end_line, end_col)``.  The expression is None when
    there is any error.
    """
    tree, diags = parse_tree(text, "expr_only", where, "expression")
    if tree is None:
        return None, diags
    return lower_expression(tree, where)


def parse_path(text: str, where: Embedded) -> tuple[Path | None, list[Diagnostic]]:
    """A field path like ``data.customer.name``, ``data.items[0]`` or `` `detail-type` ``."""
    tree, diags = parse_tree(text, "path_only", where, "path")
    if tree is None:
        return None, diags
    return lower_path(tree, where)


def parse_rules(source: Source) -> tuple[RuleSetIR | None, list[Diagnostic]]:
    """A whole rule-language file (extension ``.rules``); the rule set is None when there is any error.

    The file is parsed and lowered a piece at a time (:data:`PIECE_CHARS`, cut
    before a line that starts an item), so only one piece's parse tree is alive
    at once: a 4 MiB file's whole tree would be millions of objects, and the
    garbage collector's passes over them would cost about as much as parsing.
    Cutting there cannot change the meaning: a piece that ends with whole items
    is followed by a new item in the whole file too (no item continues with a
    word), and a cut inside an item leaves a piece that does not parse.  Any
    piece that does not parse sends the whole file down the one-tree path, which
    words the errors (and parses a file whose cut was wrong).
    """
    text = clean_text(source.text)
    deep = too_deep(text, FileSpans(source.name), "rule file")
    if deep is not None:
        return None, [deep]
    lowering = FileLowerer(source.name)
    line_offset = 0
    for start, end in pieces(text):
        piece = text[start:end]
        tree = parse_piece(piece)
        if tree is None:
            break
        lowering.add(tree, FileSpans(source.name, line_offset))
        line_offset += piece.count("\n")
    else:
        return lowering.result()
    tree, diags = parse_file_tree(source)
    if tree is None:
        return None, diags
    return lower_file(tree, source.name)
