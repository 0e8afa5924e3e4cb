"""Hypothesis strategies for the authoring tools: whole rule files as text.

Built on tests/test_compile_props.py's patterns and expressions, plus what a
file holds beyond filters: targets with options and transforms, descriptions,
priorities, CEL, default routes, settings, and names that need quoting.  The
rule set is printed as a ``.rules`` file and loaded, so every example is a
file a user could have written (the IR the parser gives, not raw IR).
"""

from __future__ import annotations

from typing import Any

from hypothesis import assume
from hypothesis import strategies as st
from test_compile_props import expressions, patterns

from rules_engine.author.pattern_text import Inexpressible
from rules_engine.author.print_rules import print_rules
from rules_engine.loader import parse_source
from rules_engine.model import ir
from rules_engine.model.source import Source

names = st.sampled_from(["a", "b-c", "d_e", "f.g", "rule", "to", "x1", "My Rule"])
option_values = st.recursive(
    st.one_of(st.sampled_from(["x", "yes", "on", "null", "1.5", "#c", "a: b", ""]), st.integers(-3, 3),
              st.sampled_from([0.5, 1e20, -2.0]), st.booleans(), st.none()),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.sampled_from(["k", "v-w", "x y"]), inner, max_size=2),
    max_leaves=4,
)
field_paths = st.sampled_from([("data", "x"), ("a",), ("detail-type",), ("data", "in"), ("if",), ("data", "items", 0)])
values = st.one_of(
    expressions,
    st.builds(ir.Literal, st.sampled_from(["text", 'q"uote', 3, 2.5, True, None])),
    st.builds(lambda s: ir.Cel(s), st.sampled_from(['data.x + 1', 'size(data.items)'])),
    st.builds(lambda p: ir.Template(("id=", ir.Field(p))), field_paths),
    st.builds(lambda vs: ir.ObjectExpr(tuple(vs)),
              st.lists(st.tuples(st.sampled_from(["k", "odd key", "in"]), st.builds(ir.Field, field_paths)),
                       max_size=3, unique_by=lambda kv: kv[0])),
)


def _steps(draw: st.DrawFn) -> ir.Transform | None:
    kind = draw(st.sampled_from(["none", "none", "set", "mixed", "envelope"]))
    if kind == "none":
        return None
    steps: list[ir.TransformStep] = []
    if kind in ("set", "mixed"):
        for p in draw(st.lists(field_paths, min_size=1, max_size=2, unique=True)):
            steps.append(ir.SetField(p, draw(values)))
    if kind == "mixed":
        steps.append(ir.Rename(("data", "x"), ("data", "y")))
        steps.append(ir.Drop((("data", "z"), ("b",))))
        if draw(st.booleans()):
            steps.append(ir.InputTransformer((("v", "$.detail.v"),), '{"v": <v>}'))
        else:
            steps.append(ir.Replace(draw(values)))
    env = None
    if kind == "envelope" or draw(st.booleans()):
        env = ir.Envelope(ir.Literal("com.example.t"), draw(st.none() | values), None,
                          tuple(draw(st.lists(st.tuples(st.sampled_from(["tenant", "x1"]), values), max_size=1))))
    return ir.Transform(tuple(steps), env)


@st.composite
def rule_files(draw: st.DrawFn) -> tuple[str, ir.RuleSetIR]:
    """(``.rules`` text, its IR) of a generated rule file that loads."""
    target_names = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    targets = tuple(
        ir.Target(n, draw(st.sampled_from(["custom", "my-plugin"])),
                  ir.freeze(draw(st.dictionaries(st.sampled_from(["path", "url", "timeout", "retry"]), option_values,
                                                 max_size=2))),
                  _steps(draw), draw(st.none() | st.builds(ir.Field, field_paths)))
        for n in target_names
    )
    rules = []
    for i in range(draw(st.integers(1, 4))):
        kinds = draw(st.lists(st.sampled_from(["match", "when", "cel"]), max_size=3, unique=True))
        fs = []
        for k in sorted(kinds, key=["match", "when", "cel"].index):
            if k == "match":
                fs.append(ir.Filter("match", draw(patterns())))
            elif k == "when":
                fs.append(ir.Filter("when", draw(expressions)))
            else:
                fs.append(ir.Filter("cel", ir.Cel(draw(st.sampled_from(['data.x > 1', "type == 'a\"b'"])))))
        rules.append(ir.Rule(
            name=f"r{i}" if draw(st.booleans()) else f"rule-{i}.x",
            filters=tuple(fs),
            targets=tuple(ir.TargetRef(n) for n in draw(st.lists(st.sampled_from(target_names), max_size=2))),
            description=draw(st.none() | st.sampled_from(["d", "with \"quotes\" and # hash", "tab\there"])),
            priority=draw(st.sampled_from([0, 0, 5, -1])),
            enabled=draw(st.booleans()),
            transform=_steps(draw),
            on_match=draw(st.sampled_from(["continue", "stop"])),
            on_error=draw(st.sampled_from(["skip", "dead_letter", "null_fill"])),
        ))
    meta: Any = draw(st.dictionaries(st.sampled_from(["owner", "links"]), option_values, max_size=2))
    rs = ir.RuleSetIR(targets, tuple(rules), tuple(ir.TargetRef(n) for n in draw(st.lists(st.sampled_from(target_names),
                      max_size=1))), draw(st.booleans()), ir.freeze(meta))
    try:
        text = print_rules(rs)
    except Inexpressible:  # an $or expansion the printers cannot write back (tested in test_author_convert)
        assume(False)
        raise
    loaded, _ = parse_source(Source("gen.rules", text), "dsl")
    assume(loaded is not None)  # an expression the checks refuse (a bad regex, say)
    assert loaded is not None
    return text, loaded
