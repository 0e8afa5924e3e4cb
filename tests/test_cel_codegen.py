"""The compiled CEL translation agrees with cel-python, verdict for verdict and value for value.

The judge is cel-python itself (``rules_engine.cel``): a seeded generator
writes expressions over every translated construct - wrong types, missing
fields, nulls, ints against doubles, uints, unicode, nested lists and maps,
macros with shadowed variables - and events to match, and every pair must get
cel-python's verdict.  Then table-driven tests pin the quirks by name.
"""

from __future__ import annotations

import json
import math
import random
import types
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules_engine.cel.evaluate import CelProgram, is_true
from rules_engine.compile.cel_codegen import CompiledCel, compile_cel, compile_cel_value
from rules_engine.compile.cel_values import CelFailure, from_celpy, to_plain

# --- the generator ------------------------------------------------------------------------------------

INTS = ["0", "1", "-1", "2", "7", "42", "-3", "1000", "9223372036854775807", "-9223372036854775808", "0x1F"]
DOUBLES = ["0.0", "1.5", "-2.25", "3.0", "1e300", "0.1", "-0.0", "2.5e-3"]
STRINGS = ['""', '"a"', '"abc"', '"héllo"', "'Zoë'", '"A-1"', '"ab"', r'"tab\t"', '"😀"', 'r"x\\d"', "'''tri'''"]
PATTERNS = ['"^a"', '"b+"', '"^[a-z]+$"', '"ö"', '"("', '"\\\\d"', '""']
JSON_INTS = [0, 1, -1, 2, 7, 42, 1000, 2**63 - 1, -(2**63), 2**63 + 5, 10**30, -(10**400)]
JSON_FLOATS = [0.0, -0.0, 1.5, -2.25, 3.0, 1e300, 0.1, 7.0, float("inf")]
JSON_STRINGS = ["", "a", "abc", "héllo", "Zoë", "ab\ncd", "😀", "A-1", "b", "bb", "x_y", "order.created"]
DATA_KEYS = ["n", "f", "s", "b", "l", "m", "x", "tags", "items"]


class ExprGen:
    """Random CEL text, mostly well typed (so that it is not all errors), sometimes not."""

    def __init__(self, rnd: random.Random) -> None:
        self.r = rnd
        self.scope: list[str] = []
        self.used: Counter[str] = Counter()

    def pick(self, options: list[str]) -> str:
        return self.r.choice(options)

    def kind(self, wanted: str) -> str:
        if self.r.random() < 0.12:  # a wrong type, on purpose
            return self.pick(["bool", "int", "double", "str", "list", "map", "any"])
        return wanted

    def gen(self, wanted: str, depth: int) -> str:
        kind = self.kind(wanted)
        if depth <= 0 or self.r.random() < 0.25:
            return self.atom(kind)
        text: str = getattr(self, "g_" + kind)(depth - 1)
        return text

    def mark(self, name: str, text: str) -> str:
        self.used[name] += 1
        return text

    # -- atoms --
    def field(self) -> str:
        path = self.pick(
            ["data.n", "data.f", "data.s", "data.b", "data.l", "data.m", "data.x", "data.m.k", "data.missing",
             "event.data.n", 'event["weird-key"]', "detail.k", "type", "id", "data", 'data["s"]', "data.l[0]",
             "event.type", "data.tags", "data.items"]
        )
        if self.scope and self.r.random() < 0.5:
            v = self.r.choice(self.scope)
            return self.pick([v, f"{v}.price", f"{v}.sku", v])
        return self.mark("field", path)

    def atom(self, kind: str) -> str:
        r = self.r.random()
        if r < 0.45:
            return self.field()
        if kind == "bool":
            return self.pick(["true", "false"])
        if kind == "int":
            return self.mark("int-literal", self.pick(INTS + ["3u", "0u"] if self.r.random() < 0.2 else INTS))
        if kind == "double":
            return self.mark("double-literal", self.pick(DOUBLES))
        if kind == "str":
            return self.mark("string-literal", self.pick(STRINGS))
        if kind == "list":
            return self.pick(['["a", "b"]', "[1, 2, 3]", "[]", '[1, "a", null]', "[1.5, 2]", "[[1], [2]]"])
        if kind == "map":
            return self.pick(['{"k": 1}', "{}", '{"a": "x", "k": [1]}'])
        return self.pick(["null", "true", "1", "1.5", '"a"', "[1]", '{"k": 2}', 'b"ab"'])

    # -- bool --
    def g_bool(self, d: int) -> str:
        op = self.r.randrange(16)
        if op == 0:
            return self.mark("cmp", f"{self.gen('int', d)} {self.pick(['<', '<=', '>', '>=', '==', '!='])} {self.gen('int', d)}")
        if op == 1:
            return self.mark("cmp-double", f"{self.gen('double', d)} {self.pick(['<', '>=', '==', '!='])} {self.gen(self.pick(['double', 'int']), d)}")
        if op == 2:
            return self.mark("cmp-str", f"{self.gen('str', d)} {self.pick(['==', '!=', '<', '>'])} {self.gen('str', d)}")
        if op == 3:
            return self.mark("eq-any", f"{self.gen('any', d)} {self.pick(['==', '!='])} {self.gen('any', d)}")
        if op == 4:
            return self.mark("in", f"{self.gen(self.pick(['str', 'int', 'any']), d)} in {self.gen(self.pick(['list', 'map', 'str']), d)}")
        if op == 5:
            return self.mark("not", f"!{self.paren(self.gen('bool', d))}")
        if op == 6:
            return self.mark("and", f"{self.gen('bool', d)} && {self.gen('bool', d)}")
        if op == 7:
            return self.mark("or", f"{self.gen('bool', d)} || {self.gen('bool', d)}")
        if op == 8:
            return self.mark("ternary", f"{self.paren(self.gen('bool', d))} ? {self.paren(self.gen('bool', d))} : {self.gen('bool', d)}")
        if op == 9:
            m = self.pick(["startsWith", "endsWith", "contains"])
            if self.r.random() < 0.2:
                return self.mark("str-function", f"{m}({self.gen('str', d)}, {self.gen('str', d)})")
            return self.mark(m, f"{self.paren(self.gen('str', d))}.{m}({self.gen('str', d)})")
        if op == 10:
            pat = self.pick(PATTERNS) if self.r.random() < 0.85 else self.gen("str", d)
            return self.mark("matches", f"{self.paren(self.gen('str', d))}.matches({pat})")
        if op == 11:
            return self.macro(self.pick(["exists", "all", "exists_one"]), d)
        if op == 12:
            return self.mark("has", f"has({self.field()})")
        if op == 13:
            return self.mark("contains-list", f"{self.gen('list', d)}.contains({self.gen('any', d)})")
        if op == 14:
            return self.mark("size-cmp", f"size({self.gen(self.pick(['list', 'str', 'map', 'any']), d)}) > {self.pick(['0', '1', '2'])}")
        return self.mark("cmp-mixed", f"{self.gen('any', d)} {self.pick(['<', '>', '=='])} {self.gen('any', d)}")

    def macro(self, name: str, d: int) -> str:
        var = self.pick(["v", "w", "v", "data", "type"])  # sometimes shadowing a variable
        rng = self.gen(self.pick(["list", "list", "map", "str", "any"]), d)
        self.scope.append(var)
        body = self.gen("bool" if name not in ("map",) else self.pick(["int", "any", "str"]), d)
        self.scope.pop()
        return self.mark(name, f"{self.paren(rng)}.{name}({var}, {body})")

    # -- values --
    def g_int(self, d: int) -> str:
        op = self.r.randrange(9)
        if op < 4:
            sym = ["+", "-", "*", self.pick(["/", "%"])][op]
            return self.mark(f"int{sym}", f"{self.paren(self.gen('int', d))} {sym} {self.paren(self.gen('int', d))}")
        if op == 4:
            return self.mark("neg", f"-{self.paren(self.gen('int', d))}")
        if op == 5:
            return self.mark("size", self.pick([f"size({self.gen('any', d)})", f"{self.paren(self.gen('list', d))}.size()"]))
        if op == 6:
            return self.mark("int()", f"int({self.gen(self.pick(['double', 'str', 'int', 'any']), d)})")
        if op == 7:
            return self.mark("index", f"{self.paren(self.gen('list', d))}[{self.gen('int', d)}]")
        return self.mark("ternary", f"{self.paren(self.gen('bool', d))} ? {self.paren(self.gen('int', d))} : {self.gen('int', d)}")

    def g_double(self, d: int) -> str:
        op = self.r.randrange(5)
        if op < 3:
            sym = self.pick(["+", "-", "*", "/", "%"])
            return self.mark(f"double{sym}", f"{self.paren(self.gen('double', d))} {sym} {self.paren(self.gen(self.pick(['double', 'int']), d))}")
        if op == 3:
            return self.mark("double()", f"double({self.gen(self.pick(['int', 'str', 'double']), d)})")
        return self.mark("neg", f"-{self.paren(self.gen('double', d))}")

    def g_str(self, d: int) -> str:
        op = self.r.randrange(5)
        if op == 0:
            return self.mark("str+", f"{self.gen('str', d)} + {self.gen('str', d)}")
        if op == 1:
            return self.mark("string()", f"string({self.gen('any', d)})")
        if op == 2:
            return self.mark("index", f"{self.paren(self.gen(self.pick(['map', 'str']), d))}[{self.gen(self.pick(['str', 'int']), d)}]")
        if op == 3:
            return self.mark("dyn", f"dyn({self.gen('str', d)})")
        return self.mark("member", f"{self.paren(self.gen('map', d))}.{self.pick(['k', 's', 'a'])}")

    def g_list(self, d: int) -> str:
        op = self.r.randrange(5)
        if op == 0:
            return self.macro("map", d)
        if op == 1:
            return self.macro("filter", d)
        if op == 2:
            return self.mark("list+", f"{self.gen('list', d)} + {self.gen('list', d)}")
        if op == 3:
            return self.mark("list-literal", f"[{self.gen('any', d)}, {self.gen('int', d)}]")
        return self.field()

    def g_map(self, d: int) -> str:
        if self.r.random() < 0.5:
            return self.mark("map-literal", f'{{"k": {self.gen("any", d)}, "s": {self.gen("str", d)}}}')
        return self.field()

    def g_any(self, d: int) -> str:
        return self.gen(self.pick(["bool", "int", "double", "str", "list", "map"]), d)

    def paren(self, text: str) -> str:
        simple = text.replace("_", "").replace(".", "").isalnum() and not text[:1].isdigit()
        return text if simple else f"({text})"


def json_value(r: random.Random, depth: int = 0) -> Any:
    k = r.randrange(10 if depth < 2 else 6)
    if k == 0:
        return r.choice(JSON_INTS)
    if k == 1:
        return r.choice(JSON_FLOATS)
    if k in (2, 3):
        return r.choice(JSON_STRINGS)
    if k == 4:
        return r.choice([True, False])
    if k == 5:
        return None
    if k in (6, 7):
        return [json_value(r, depth + 1) for _ in range(r.randrange(4))]
    return {r.choice(["k", "s", "a", "price", "sku"]): json_value(r, depth + 1) for _ in range(r.randrange(4))}


def typed(r: random.Random, key: str) -> Any:
    """Mostly the type a key suggests, sometimes anything (wrong types, null)."""
    if r.random() < 0.3:
        return json_value(r, 1)
    makers: dict[str, Callable[[], Any]] = {
        "n": lambda: r.choice(JSON_INTS),
        "f": lambda: r.choice(JSON_FLOATS),
        "s": lambda: r.choice(JSON_STRINGS),
        "b": lambda: r.choice([True, False]),
        "l": lambda: [r.choice([*JSON_INTS, *JSON_STRINGS[:4]]) for _ in range(r.randrange(4))],
        "m": lambda: {"k": json_value(r, 1), "s": r.choice(JSON_STRINGS)},
        "x": lambda: json_value(r),
        "tags": lambda: r.sample(JSON_STRINGS, r.randrange(4)),
        "items": lambda: [
            {"price": r.choice(JSON_INTS[:7] + JSON_FLOATS[:5]), "sku": r.choice(JSON_STRINGS)}
            for _ in range(r.randrange(4))
        ],
    }
    return makers[key]()


def event_gen(r: random.Random) -> dict[str, Any]:
    ev: dict[str, Any] = {}
    if r.random() < 0.8:
        ev["type"] = r.choice(["order.created", "a", 3, None])
    if r.random() < 0.5:
        ev["id"] = r.choice(["e-1", 7, ""])
    if r.random() < 0.85:
        ev["data"] = (
            {k: typed(r, k) for k in DATA_KEYS if r.random() < 0.85}
            if r.random() < 0.9 else json_value(r, 1)
        )
    if r.random() < 0.3:
        ev["detail"] = {"k": json_value(r, 1)}
    if r.random() < 0.3:
        ev["weird-key"] = json_value(r, 1)
    return ev


def same_value(a: Any, b: Any) -> bool:
    """Equality of results, with NaN equal to itself and failures equal to each other."""
    if isinstance(a, CelFailure) or isinstance(b, CelFailure):
        return isinstance(a, CelFailure) and isinstance(b, CelFailure)
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return bool(a == b)


def reference_value(program: CelProgram, event: dict[str, Any]) -> Any:
    return to_plain(from_celpy(program.evaluate(event)))


def wrap(r: random.Random, text: str) -> str:
    """Sometimes a context that tells an error from an abort, or an error from a value."""
    k = r.random()
    if k < 0.15:
        return f"({text}) || true"
    if k < 0.25:
        return f"has({text})"
    return text


SEED = 20240501
N_EXPRESSIONS = 420
EVENTS_PER_EXPRESSION = 4


@pytest.fixture(scope="module")
def generated() -> tuple[list[tuple[str, list[dict[str, Any]]]], Counter[str]]:
    r = random.Random(SEED)
    g = ExprGen(r)
    cases = []
    for _ in range(N_EXPRESSIONS):
        text = wrap(r, g.gen("bool", r.randrange(1, 5)))
        cases.append((text, [event_gen(r) for _ in range(EVENTS_PER_EXPRESSION)]))
    return cases, g.used


def test_generated_pairs_get_cel_pythons_verdict_and_value(
    generated: tuple[list[tuple[str, list[dict[str, Any]]]], Counter[str]],
) -> None:
    cases, used = generated
    verdicts: list[str] = []
    values: list[str] = []
    pairs = fallbacks = true_verdicts = 0
    for text, events in cases:
        program = CelProgram.build(text)
        compiled = compile_cel(text)
        value_of = compile_cel_value(text)
        fallbacks += compiled.is_fallback
        for ev in events:
            pairs += 1
            want = program.truth(ev)
            true_verdicts += want
            if compiled.predicate(ev) != want:
                verdicts.append(f"{text!r} on {json.dumps(ev, ensure_ascii=False)}: cel-python says {want}")
            ref, got = reference_value(program, ev), value_of(ev)
            if not same_value(ref, got):
                values.append(f"{text!r} on {json.dumps(ev, ensure_ascii=False)}: {ref!r} != {got!r}")
    assert verdicts == [], "\n".join(verdicts[:10])
    assert values == [], "\n".join(values[:10])
    assert pairs >= 1000
    # The set is useful only if it is not all-false and translates (almost) everything.
    assert true_verdicts > pairs // 10
    assert fallbacks <= len(cases) // 50, fallbacks
    constructs = {
        "and", "or", "not", "ternary", "in", "has", "cmp", "cmp-double", "cmp-str", "eq-any", "startsWith",
        "endsWith", "contains", "contains-list", "matches", "exists", "all", "exists_one", "map", "filter",
        "size", "int()", "double()", "string()", "dyn", "index", "member", "neg", "int+", "int-", "int*",
        "double+", "double*", "str+", "list+", "list-literal", "map-literal", "int-literal", "double-literal",
        "string-literal", "field",
    }
    assert constructs <= set(used), constructs - set(used)


# --- hypothesis: arbitrary JSON events against fixed expressions ----------------------------------------------

json_scalars = (
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False) | st.text(max_size=6)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["k", "s", "price"]), inner, max_size=3),
    max_leaves=8,
)
events = st.fixed_dictionaries(
    {},
    optional={
        "type": json_values,
        "data": st.fixed_dictionaries({}, optional=dict.fromkeys(["n", "f", "s", "l", "m"], json_values)),
        "detail": json_values,
    },
)
FIXED = [
    'type == "order.created" && data.n > 1000',
    "data.n + 1 > data.f || data.f * 2.0 >= 3.0",
    'data.s.startsWith("a") || data.s in ["", "b"] || size(data.s) == 2',
    "data.l.exists(x, x == 1 || x == 'k') && !data.l.all(x, x != null)",
    "has(data.m.k) ? data.m.k == data.n : data.l.size() >= 1",
    "data.l.map(x, x).filter(y, y).size() > 0",
    "int(data.f) == data.n || double(data.n) == data.f || string(data.n) == data.s",
    "detail.exists_one(x, x == 's') || detail.k % 2 == 1",
    "data.m == {'k': data.n} || data.l[0] == data.n || data.l == [data.n]",
    '-data.n < 0 && data.n / 3 != 0 && data.s.matches("^[a-z]")',
]


FIXED_PAIRS = [(text, compile_cel(text), CelProgram.build(text)) for text in FIXED]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=events)
def test_arbitrary_json_events_get_cel_pythons_verdict(event: dict[str, Any]) -> None:
    for text, compiled, program in FIXED_PAIRS:
        assert not compiled.is_fallback
        assert compiled.predicate(event) == program.truth(event), text


# --- the quirks, by name -------------------------------------------------------------------------------

CE = {"type": "order.created", "source": "/shop", "data": {"total": 1500, "price": 99.5, "tags": ["a", "b"],
      "items": [{"price": 3}, {"price": 10}], "name": "Zoë", "nothing": None, "big": 2**64}}


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param('type == "order.created" && data.total > 1000', True, id="cloudevents-filter"),
        pytest.param("data.missing == 1 || data.total == 1500", True, id="or-absorbs-error-left"),
        pytest.param("data.total == 1500 || data.missing == 1", True, id="or-absorbs-error-right"),
        pytest.param("data.missing == 1 && data.total == 1", False, id="and-false-absorbs-error"),
        pytest.param("data.missing == 1 || data.total == 1", False, id="or-error-stays-error"),
        pytest.param("data.total == 1500.0", False, id="int-eq-double-is-error"),
        pytest.param("data.price > 99", True, id="double-orders-against-int"),
        pytest.param("99 < data.price", False, id="int-does-not-order-against-double"),
        pytest.param("data.price + 1 == 100.5", True, id="double-plus-int-is-plain-float"),
        pytest.param("(data.price + 0.5) == 100", True, id="plain-float-equals-int"),
        pytest.param("true == 1", True, id="bool-eq-int-left"),
        pytest.param("1 == true", False, id="int-eq-bool-is-error"),
        pytest.param("(1 || false) == 1", True, id="or-passes-non-bool-through"),
        pytest.param("9223372036854775807 + 1 > 0 || true", True, id="int-overflow-is-error"),
        pytest.param("9223372036854775807 + 1 > 0", False, id="int-overflow-error-verdict"),
        pytest.param("-7 / 2 == -3 && -7 % 2 == -1", True, id="go-division"),
        pytest.param("1.0 / 0.0 > 1e308 && -1.0 / 0.0 > 0.0", True, id="double-div-zero-is-plus-inf"),
        pytest.param("5 / 0 == 0 || true", True, id="int-div-zero-error-absorbed"),
        pytest.param("data.big > 1.0e19", True, id="json-int-beyond-int64-is-double"),
        pytest.param('"b" in "abc"', True, id="in-string-iterates-characters"),
        pytest.param('("a" + "b").contains("a")', False, id="plain-str-has-no-contains"),
        pytest.param('"abc"[0] == "a" && [1, 2][-1] == 2', True, id="python-indexing"),
        pytest.param("size(null) == 0", True, id="size-of-null"),
        pytest.param('string(true) == "True" && string(1.5) == "1.5"', True, id="string-conversion"),
        pytest.param('int(" 42 ") == 42 && int("0x10") == 16', True, id="int-conversion-from-string"),
        pytest.param("int(1e300) == 1 || true", True, id="int-conversion-overflow-error"),
        pytest.param("int(1.0 / 0.0) == 1 || true", False, id="int-of-inf-aborts-evaluation"),
        pytest.param("null.exists(x, true) || true", False, id="macro-over-null-aborts"),
        pytest.param("[1, 0].map(x, 1 / x) == [] || true", False, id="error-in-map-body-aborts"),
        pytest.param("[1, 0].exists(x, 1 / x > 0)", True, id="exists-absorbs-errors"),
        pytest.param("[0, 1].all(x, 1 / x > 0)", False, id="all-error-stays-error"),
        pytest.param("(true ? null.exists(x, true) : false) || true", True, id="abort-in-branch-is-error"),
        pytest.param("({'k': null.exists(x, true)}).k || true", True, id="abort-in-map-literal-is-error"),
        pytest.param("(true ? [0].map(x, 1 / x) : []) == [] || true", False, id="raised-error-passes-branch"),
        pytest.param("data.items.exists_one(i, i.price > 5)", True, id="exists-one"),
        pytest.param("data.items.map(i, i.price * 2) == [6, 20]", True, id="map"),
        pytest.param('data.tags.filter(t, t != "a") == ["b"]', True, id="filter"),
        pytest.param("data.tags.exists(data, data == 'b')", True, id="macro-variable-shadows"),
        pytest.param('"abc".exists(c, c == "b")', True, id="macro-over-string"),
        pytest.param("has(data.nothing) && !has(data.nope) && !has(1 / 0)", True, id="has"),
        pytest.param("data.nothing == null && !(data.nothing != null)", True, id="null-field"),
        pytest.param('data.name.matches("^Z.ë$") && !data.name.matches("x")', True, id="matches-unicode"),
        pytest.param('data.name.matches("(") || true', True, id="invalid-regex-is-error-value"),
        pytest.param('type.matches("order\\\\.")', True, id="matches-escaped"),
        pytest.param("1u + 2u == 3u && 0u - 1u == 1u || true", True, id="uint-overflow-absorbed"),
        pytest.param("{'a': 1}.a == 1 && {'a': [1]}['a'][0] == 1", True, id="map-literal"),
        pytest.param("{'a': 1 / 0} == {'a': 1 / 0}", True, id="equal-errors-inside-map-literals"),
        pytest.param("[1, 'a'] == [1, 'a'] && [] == []", True, id="list-equality"),
        pytest.param("[1, 'a'] == ['a', 1] || true", True, id="list-equality-type-error"),
        pytest.param('b"ab" == b"ab"', True, id="bytes"),
        pytest.param("dyn(data.total) == 1500", True, id="dyn"),
        pytest.param("data.total", False, id="non-bool-result"),
        pytest.param('event["source"].endsWith("shop") && event.data.total > 1', True, id="event-variable"),
        pytest.param("type(1) == type(2) || true", True, id="type-function"),
        pytest.param('"ab".exists(v, size({"a": "x"}[[]]) > 1) || true', False,
                     id="error-cel-python-cannot-print-aborts"),
        pytest.param('({"a": "x"}[[]] > 1 || false) || true', True, id="printable-error-absorbed"),
    ],
)
def test_quirk_matches_cel_python(text: str, expected: bool) -> None:
    compiled = compile_cel(text)
    assert not compiled.is_fallback, text
    assert CelProgram.build(text).truth(CE) is expected
    assert compiled.predicate(CE) is expected


@pytest.mark.parametrize(
    "event, expected",
    [
        pytest.param({"data": {"total": 5}}, True, id="type-absent-is-the-type-function"),
        pytest.param({"type": "x", "data": {"total": 5}}, False, id="type-present"),
    ],
)
def test_absent_type_variable(event: dict[str, Any], expected: bool) -> None:
    text = '!(type == "x") && data.total == 5'
    assert CelProgram.build(text).truth(event) is expected
    assert compile_cel(text).predicate(event) is expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("[3, 1, 2].min() == 1", id="min-extension"),
        pytest.param("[1, 2].reduce(a, x, 0, a + x) == 3", id="reduce-extension"),
        pytest.param("{1: 'a'}[1] == 'a'", id="int-map-key"),
        pytest.param("undeclared == 1", id="undeclared-name"),
        pytest.param("[1].exists(x.y, true)", id="macro-variable-not-a-name"),
        pytest.param("data.total ==", id="syntax-error"),
        pytest.param("frob(1)", id="unknown-function"),
        pytest.param("(" * 40 + "1" + ")" * 40 + " == 1", id="too-deep"),
    ],
)
def test_untranslated_constructs_fall_back_with_the_same_verdict(text: str) -> None:
    compiled = compile_cel(text)
    assert compiled.is_fallback and compiled.fields is None and compiled.python is None
    assert compiled.predicate(CE) == CelProgram.build(text).truth(CE)


@pytest.mark.parametrize(
    "depth, fallback",
    [pytest.param(8, False, id="eight-macros-translated"), pytest.param(9, True, id="nine-macros-fall-back")],
)
def test_deeply_nested_macros(depth: int, fallback: bool) -> None:
    text = "[[1]]" + "".join(f".exists(v{i}, [[1]]" for i in range(depth)) + ".exists(w, true)" + ")" * depth
    compiled = compile_cel(text)
    assert compiled.is_fallback is fallback
    assert compiled.predicate({}) is True


def test_fallback_still_answers_true() -> None:
    compiled = compile_cel("[3, 1, 2].min() == 1")
    assert compiled.is_fallback
    assert compiled.predicate({}) is True


@pytest.mark.parametrize(
    "text, fields",
    [
        pytest.param('type == "a" && data.total > 1', {("type",), ("data", "total")}, id="envelope-paths"),
        pytest.param('event.data.items.exists(i, i.price > 3)', {("data", "items")}, id="macro-collection"),
        pytest.param('event["detail-type"] == "x"', {("detail-type",)}, id="index-by-literal"),
        pytest.param("data.l[0] == 1", {("data", "l")}, id="index-by-number-stops"),
        pytest.param("has(data.a.b)", {("data", "a", "b")}, id="has"),
        pytest.param("size(event) > 0", {()}, id="whole-event"),
        pytest.param("1 == 1", set(), id="reads-nothing"),
        pytest.param("data[data.k] == 1", {("data",), ("data", "k")}, id="dynamic-key"),
    ],
)
def test_fields_read(text: str, fields: set[tuple[str, ...]]) -> None:
    compiled = compile_cel(text)
    assert compiled.fields == frozenset(fields)


def test_event_may_be_any_mapping() -> None:
    compiled = compile_cel("data.total > 1")
    assert compiled.predicate(types.MappingProxyType({"data": {"total": 2}})) is True
    assert compiled.predicate(types.MappingProxyType({"data": types.MappingProxyType({"total": 2})})) is True


def test_non_json_values_fall_back_per_event() -> None:
    compiled = compile_cel("data.s == 'a'")
    assert not compiled.is_fallback
    # A set is not JSON: cel-python cannot convert the event, so the filter is false.
    assert compiled.predicate({"data": {"s": {1, 2}}}) is False
    assert compiled.predicate({"data": {"s": "a"}}) is True


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("data.items.map(i, i.price * 2)", [6, 20], id="list"),
        pytest.param("data.price + 1", 100.5, id="plain-float"),
        pytest.param('{"n": data.name + "!", "u": 3u}', {"n": "Zoë!", "u": 3}, id="map-and-uint"),
        pytest.param('b"ab"', "YWI=", id="bytes-as-base64"),
        pytest.param("data.nothing", None, id="null"),
    ],
)
def test_compile_cel_value(text: str, expected: Any) -> None:
    assert compile_cel_value(text)(CE) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("data.nope", id="missing-member"),
        pytest.param("[1, 0].map(x, 1 / x)", id="raised-in-map"),
        pytest.param("null.exists(x, true)", id="aborted"),
        pytest.param("nope +", id="syntax-error"),
    ],
)
def test_compile_cel_value_failures(text: str) -> None:
    assert isinstance(compile_cel_value(text)(CE), CelFailure)


def test_compiled_is_immutable_and_reports_its_python() -> None:
    compiled = compile_cel("data.total > 1")
    assert isinstance(compiled, CompiledCel)
    assert compiled.python is not None and "def _cel(ev)" in compiled.python
    with pytest.raises(AttributeError):
        compiled.text = "x"  # type: ignore[misc]
    assert is_true(CelProgram.build("data.total > 1").evaluate(CE)) is compiled.predicate(CE)
