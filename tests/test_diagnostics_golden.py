"""Every diagnostic code, triggered by a small input, rendered exactly (golden files).

Each case is an input that produces the code; the whole rendered output of that
input is pinned in tests/golden/diagnostics/<CODE>.txt (REGEN_GOLDEN=1 rewrites
them; review the diff).  A code added to codes.TABLE without a case here fails
``test_every_code_has_a_golden_case``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from serve_diagnostics import SERVE_CALLS

from rules_engine.deliver import AdapterRegistry
from rules_engine.loader import load_paths
from rules_engine.model import codes, ir
from rules_engine.model.errors import RuleError, render_text
from rules_engine.model.source import Source

T = "targets:\n  out: {type: stdout}\n"


def yaml_rules(body: str) -> str:
    return T + "rules:\n" + body


def rule(extra: str, name: str = "r") -> str:
    return yaml_rules(f"  - name: {name}\n    targets: [out]\n{extra}")


DSL_HEAD = "target out = stdout\n"

# code -> (file name, content) ; the file is loaded as a one-file rule set
FILES: dict[str, tuple[str, bytes | str]] = {
    "E100": ("latin1.yaml", "targets:\n  out: {type: stdout}\n# caf\xe9\n".encode("latin-1")),
    "E101": ("empty.yaml", ""),
    "E102": ("broken.yaml", "targets:\n  out: {type: stdout\nrules: []\n"),
    "E103": ("bomb.yaml", ""),  # filled below
    "E140": ("nan.yaml", rule("    when: x == 1\n    transform:\n      set: {data.ratio: .nan}\n")),
    "E104": ("huge.yaml", "# " + "x" * (4 * 1024 * 1024) + "\n"),
    "E105": ("deep.yaml", rule("    when: " + "(" * 100 + "x" + ")" * 100 + "\n")),
    "E106": ("tok.rules", DSL_HEAD + "rule r {\n  when data.total > > 3\n  route to out\n}\n"),
    "E107": ("char.rules", DSL_HEAD + "rule r {\n  when data.total ~ 3\n  route to out\n}\n"),
    "E108": ("str.rules", DSL_HEAD + 'rule r {\n  when type == "order.created\n  route to out\n}\n'),
    "E109": ("eof.rules", DSL_HEAD + "rule r {\n  when type == \n"),
    "E110": ("dup.yaml", T + "targets:\n  x: {type: stdout}\nrules: []\n"),
    "E111": ("list.yaml", "- name: r\n"),
    "E112": ("cel.yaml", rule("    cel: data.total >\n")),
    "E114": ("esc.rules", DSL_HEAD + 'rule r {\n  when type == "a\\qb"\n  route to out\n}\n'),
    "E115": ("tag.yaml", "targets: !!python/object/apply:os.system ['true']\n"),
    "E116": ("rules.txt", "targets: {}\n"),
    "E119": ("key.yaml", "? [a, b]\n: 1\n"),
    "E120": ("name.rules", DSL_HEAD + "rule r {\n  when `detail-type == 1\n  route to out\n}\n"),
    "E121": ("dupname.rules", "target out = stdout(path: \"a\", path: \"b\")\nrule r {\n  when x == 1\n  route to out\n}\n"),
    "E122": ("dupstmt.rules", DSL_HEAD + 'rule r {\n  description "a"\n  description "b"\n  when x == 1\n  route to out\n}\n'),
    "E123": ("num.rules", DSL_HEAD + "rule r {\n  when x == 1e999\n  route to out\n}\n"),
    "E124": ("prio.rules", DSL_HEAD + "rule r priority 1.5 {\n  when x == 1\n  route to out\n}\n"),
    "E125": ("root.rules", DSL_HEAD + "rule r {\n  when x == 1\n  drop $\n  route to out\n}\n"),
    "E126": ("cidr.rules", DSL_HEAD + "rule r {\n  when ip in cidr(net)\n  route to out\n}\n"),
    "E127": ("tmpl.rules", DSL_HEAD + 'rule r {\n  when x == 1\n  set data.msg = f"Order {data.id"\n  route to out\n}\n'),
    "E128": ("env.rules", DSL_HEAD + 'rule r {\n  when x == 1\n  envelope avro { type: "t" }\n  route to out\n}\n'),
    "E129": ("attr.rules", DSL_HEAD + 'rule r {\n  when x == 1\n  envelope cloudevents { Bad_Name: "t" }\n  route to out\n}\n'),
    "E130": ("it.rules", DSL_HEAD + 'rule r {\n  when x == 1\n  input transformer { paths: {"v": "$.a"} }\n  route to out\n}\n'),
    "E131": ("after.rules", DSL_HEAD + 'rule r {\n  when x == 1\n  envelope cloudevents { type: "t" }\n  drop data.x\n  route to out\n}\n'),
    "E133": ("celarg.rules", DSL_HEAD + "rule r {\n  when x == 1\n  set data.y = cel(data.x)\n  route to out\n}\n"),
    "E134": ("cesqlsyntax.yaml", rule("    cesql: \"type = 'order.created' AND\"\n")),
    "E201": ("unknown.yaml", rule("    when: x == 1\n    prority: 3\n")),
    "E202": ("type.yaml", rule("    when: x == 1\n    priority: high\n")),
    "E203": ("req.yaml", T + "rules:\n  - targets: [out]\n    when: x == 1\n"),
    "E204": ("enum.yaml", rule("    when: x == 1\n    on_match: halt\n")),
    "E205": ("anyof.yaml", rule('    when: x == 1\n    transform:\n      set: {data.x: {value: 1, cel: "x"}}\n')),
    "E206": ("emptywhen.yaml", rule('    when: ""\n')),
    # Target options, checked by the adapter type (both formats; tests/test_target_options.py pairs them).
    "E601": ("opt.rules", 'target out = stdout(prety: true)\nrule r {\n  when x == 1\n  route to out\n}\n'),
    "E602": ("opttype.yaml", "targets:\n  out: {type: stdout, retry: {attempts: many}}\nrules:\n  - name: r\n    when: x == 1\n    targets: [out]\n"),
    "E603": ("optreq.rules", 'target hook = http(timeout: 5)\nrule r {\n  when x == 1\n  route to hook\n}\n'),
    "E604": ("optval.yaml", "targets:\n  m: {type: mqtt, topic: a/b, qos: 7}\nrules:\n  - name: r\n    when: x == 1\n    targets: [m]\n"),
    "E301": ("duprule.yaml", rule("    when: x == 1\n") + "  - name: r\n    when: x == 2\n    targets: [out]\n"),
    "E302": ("alerts.yaml", yaml_rules("  - name: r\n    when: x == 1\n    targets: [slack-ops]\n") + "default_targets: [out]\n"),
    "E303": ("duptarget.rules", "target out = stdout\ntarget out = file(path: \"x\")\nrule r {\n  when x == 1\n  route to out\n}\n"),
    "E304": ("regex.yaml", rule("    when: 'subject matches \"(unclosed\"'\n")),
    "E305": ("never.yaml", rule("    when: '\"abc\" > 3'\n")),
    "E306": ("fn.yaml", rule("    when: lowr(name) == \"x\"\n")),
    "E307": ("arity.yaml", rule("    when: lower(a, b) == \"x\"\n")),
    "E308": ("celvar.yaml", rule("    cel: detail_type == \"x\"\n")),
    "E309": ("badcidr.yaml", rule('    when: ip in cidr("10.0.0.300/8")\n')),
    "E311": ("p311.yaml", rule("    match: {source: aws.ec2}\n")),
    "E312": ("p312.yaml", rule("    match: {source: [{prefx: aws}]}\n")),
    "E313": ("p313.yaml", rule("    match: {source: [{prefix: 3}]}\n")),
    "E314": ("p314.yaml", rule('    match: {n: [{numeric: [">", "x"]}]}\n')),
    "E315": ("p315.yaml", rule('    match: {n: [{wildcard: "a**b"}]}\n')),
    "E316": ("p316.yaml", rule('    match: {ip: [{cidr: "10.0.0.0/x"}]}\n')),
    "E317": ("p317.yaml", rule("    match: {$or: [{a: [1]}]}\n")),
    "E330": ("ttype.yaml", "targets:\n  out: {type: kafka, topic: t}\nrules:\n  - name: r\n    when: x == 1\n    targets: [out]\n"),
    "E333": ("argtype.yaml", rule("    when: substring(name, \"a\") == \"x\"\n")),
    "E340": ("celfn.yaml", rule("    cel: frobnicate(data) == 1\n")),
    "E341": ("celmacro.yaml", rule("    cel: data.items.exists(i) \n")),
    "E342": ("celmvar.yaml", rule("    cel: data.items.exists(1, true)\n")),
    "E343": ("celmsg.yaml", rule("    cel: 'Foo{a: 1} == data'\n")),
    "E350": ("like.yaml", rule('    when: name like "ab\\\\"\n')),
    "E351": ("arith.yaml", rule("    when: x == 1\n    transform:\n      set: {data.y: 'data.total * \"x\"'}\n")),
    "E352": ("dupkey.yaml", rule('    when: x == 1\n    transform:\n      payload: \'{"a": 1, "a": 2}\'\n')),
    "E332": ("scope.yaml", rule("    when: 'any(i in data.items: i.x == 1) and i.y == 2'\n")),
    "W306": ("dotted.yaml", rule("    when: type == order.created\n")),
    "E353": ("dynregex.yaml", rule("    when: name matches data.pattern\n")),
    "E354": ("lookahead.yaml", rule("    when: 'subject matches \"^(?=.*x)order-[0-9]+$\"'\n")),
    "E380": ("cesqlfn.yaml", rule("    cesql: \"SUBSTRING(subject) = 'a'\"\n")),
    "E381": ("cesqltype.yaml", rule("    cesql: LENGTH(subject)\n")),
    "E382": ("cesqlconst.yaml", rule("    cesql: \"type = 'a' AND INT('ten') > 3\"\n")),
    "E383": ("cesqldata.yaml", rule("    cesql: \"data = 'x'\"\n")),
    "E370": ("ipath.yaml", rule("    when: x == 1\n    transform:\n      input_paths_map: {v: '$.detail[\"x\"]'}\n      input_template: '<v>'\n")),
    "E371": ("ivar.yaml", rule("    when: x == 1\n    transform:\n      input_paths_map: {aws.mine: $.detail}\n      input_template: 'x'\n")),
    "E372": ("ivars.yaml", rule("    when: x == 1\n    transform:\n      input_paths_map: {" + ", ".join(f"v{i}: $.a" for i in range(101))
                                + "}\n      input_template: '<v1>'\n")),
    "E373": ("itmpl.yaml", rule("    when: x == 1\n    transform:\n      input_paths_map: {v: $.detail}\n      input_template: '{<v>: 1}'\n")),
    "E374": ("keep.rules", DSL_HEAD + "rule r {\n  when x == 1\n  keep id, data.items[0]\n  route to out\n}\n"),
    "W301": ("unused.yaml", "targets:\n  out: {type: stdout}\n  spare: {type: stdout}\nrules:\n  - name: r\n    when: x == 1\n    targets: [out]\n"),
    "W302": ("catchall.yaml", rule("")),
    "W303": ("nowhere.yaml", T + "default_targets: [out]\nrules:\n  - name: r\n    when: x == 1\n"),
    "W305": ("knative.yaml", rule("    filters:\n      - exact: {type: order.created}\n    filter:\n      attributes: {type: x}\n")),
    "W304": ("unreach.yaml", rule("    on_match: stop\n") + "  - name: later\n    when: x == 1\n    targets: [out]\n"),
}


def _bomb() -> str:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    prev = "a"
    for n in "bcdefghi":
        text += f"{n}: &{n} [" + ",".join(["*" + prev] * 9) + "]\n"
        prev = n
    return text


FILES["E103"] = ("bomb.yaml", _bomb())


def _render_files(tmp: Path, code: str) -> str:
    name, content = FILES[code]
    path = tmp / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="\n")
    else:
        path.write_bytes(content)
    import os

    old = os.getcwd()
    os.chdir(tmp)
    try:
        res = load_paths([name], catalog=AdapterRegistry())
    finally:
        os.chdir(old)
    return render_text(res.diagnostics, res.sources) + "\n"


def _events_case(raw: bytes, max_bytes: int = 64) -> Callable[[Path], str]:
    def run(_: Path) -> str:
        from rules_engine.model.events import decode_event

        try:
            decode_event(raw, max_bytes=max_bytes, name="event.json")
        except RuleError as e:
            return render_text(e.diagnostics) + "\n"
        raise AssertionError("no error")

    return run


def _missing_file(tmp: Path) -> str:
    res = load_paths([str(Path("does/not/exist.yaml"))])
    return render_text(res.diagnostics, res.sources) + "\n"


def _fifo_skipped(tmp: Path) -> str:
    import os

    (tmp / "rules").mkdir()
    (tmp / "rules" / "a.yaml").write_text(rule("    when: x == 1\n"))
    os.mkfifo(tmp / "rules" / "pipe.yaml")
    old = os.getcwd()
    os.chdir(tmp)
    try:
        res = load_paths(["rules"])
    finally:
        os.chdir(old)
    return render_text(res.diagnostics, res.sources) + "\n"


def _no_rule_files(tmp: Path) -> str:
    (tmp / "empty-dir").mkdir()
    import os

    old = os.getcwd()
    os.chdir(tmp)
    try:
        res = load_paths(["empty-dir"])
    finally:
        os.chdir(old)
    return render_text(res.diagnostics, res.sources) + "\n"


def _several_sets(tmp: Path) -> str:
    import contextlib
    import io
    import os

    from rules_engine.cli.main import main

    for name in ("a", "b"):
        (tmp / "rules" / name).mkdir(parents=True)
        (tmp / "rules" / name / "r.yaml").write_text(rule("    when: x == 1\n"))
    old = os.getcwd()
    os.chdir(tmp)
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            main(["compile", "--rules", "rules"])
    finally:
        os.chdir(old)
    return err.getvalue()


def _json_pattern(_: Path) -> str:
    from rules_engine.patterns.lower import parse_pattern_json

    _, diags = parse_pattern_json('{"source": ["a",]}', file="pattern.json")
    return render_text(diags, {"pattern.json": Source("pattern.json", '{"source": ["a",]}')}) + "\n"


def _too_long(_: Path) -> str:
    from rules_engine.model.source import Embedded
    from rules_engine.syntax.language import parse_expression

    text = "x == " + "1 + " * 30000 + "1"
    _, diags = parse_expression(text, Embedded.plain("long.yaml", text, 4, 11))
    return render_text(diags) + "\n"


def _explain(expr: str, event: dict[str, object]) -> Callable[[Path], str]:
    def run(_: Path) -> str:
        from rules_engine.cel.evaluate import explain_cel

        return f"{explain_cel(expr, event)}\n"

    return run


def _pattern_too_large(_: Path) -> str:
    # "k0.p" is assigned again inside the first $or, so the groups must be
    # expanded into explicit branches: 2**11 of them, past the cap.
    groups = ", ".join(f'"k{i}": {{"$or": [{{"p": [1]}}, {{"q": [1]}}]}}' for i in range(11))
    text = '{"k0.p": [5], ' + groups + "}"
    from rules_engine.patterns.lower import parse_pattern_json

    _, diags = parse_pattern_json(text, file="big-pattern.json")
    return render_text(diags, {"big-pattern.json": Source("big-pattern.json", text)}) + "\n"


CALLS: dict[str, Callable[[Path], str]] = {
    "E318": _pattern_too_large,
    "E113": _json_pattern,
    "E117": _missing_file,
    "E118": _no_rule_files,
    "W101": _fifo_skipped,
    "E150": _several_sets,
    "E132": _too_long,
    "E501": _events_case(b'{"a": 1,}'),
    "E502": _events_case(b"[1, 2]"),
    "E503": _events_case(b"[" * 2000 + b"]" * 2000, max_bytes=1 << 20),
    "E504": _events_case(b'{"a": "' + b"x" * 100 + b'"}'),
    "E520": _explain("data.total > 10", {"data": {"total": 3}}),
    "E521": _explain("data.missing > 10", {"data": {}}),
    "E522": _explain("data.total", {"data": {"total": 3}}),
}

def _transform_error(transform: str, event: dict[str, object]) -> Callable[[Path], str]:
    """Run-time transform errors are recorded in decisions, not raised: render the recorded one."""

    def run(_: Path) -> str:
        import rules_engine

        rs = rules_engine.loads(rule("    when: x == 1\n    transform:\n" + transform))
        (decision,) = rs.evaluate(event)
        assert decision.error is not None and decision.action == "skip"
        return render_text([decision.error.diagnostic()]) + "\n"

    return run


def _invalid_input_transformer(_: Path) -> str:
    # Only IR built by a tool (not checked) can hold an invalid input transformer; the router
    # records E510 instead of failing.
    from rules_engine.model import ir
    from rules_engine.route.router import compile_router

    bad = ir.Transform((ir.InputTransformer((("v", "$.a"),), "{<v>: 1}"),))
    rs = ir.RuleSetIR((ir.Target("out", "stdout"),), (ir.Rule("r", targets=(ir.TargetRef("out"),), transform=bad),))
    (decision,) = compile_router(rs).route({"a": 1}, rs.rules)
    assert decision.error is not None
    return render_text([decision.error.diagnostic()]) + "\n"


CALLS.update({
    "E510": _invalid_input_transformer,
    "E511": _transform_error("      set: {data.cents: data.total * 100}\n", {"x": 1, "data": {}}),
    "E512": _transform_error("      rename: {data.customer: data.client}\n", {"x": 1, "data": {}}),
    "E513": _transform_error("      set: {data.total.cents: 1}\n", {"x": 1, "data": {"total": 5}}),
    "E514": _transform_error("      set: {data.n: {cel: 'int(data.s)'}}\n", {"x": 1, "data": {"s": "abc"}}),
    "E516": _transform_error("      input_paths_map: {p: $.data}\n      input_template: '{\"p\": \"<p>\"}'\n",
                             {"x": 1, "data": {"a": 1}}),
    "E515": _transform_error("      envelope: {type: data.n, source: \"'/x'\"}\n", {"x": 1, "data": {"n": 3}}),
})

CALLS.update(SERVE_CALLS)  # the sidecar's codes (tests/serve_diagnostics.py)


def _convert(text: str, name: str, src: str, dst: str) -> Callable[[Path], str]:
    def run(_: Path) -> str:
        from rules_engine.author.convert import convert_source

        source = Source(name, text)
        out, diags = convert_source(source, src, dst)
        assert out is None
        return render_text(diags, {name: source}) + "\n"

    return run


def _delivery(case: str) -> Callable[[Path], str]:
    """Run-time delivery codes: a real dispatcher, file targets and a local port nothing listens on."""

    def run(tmp: Path) -> str:
        import asyncio

        from rules_engine.deliver import Dispatcher
        from rules_engine.route.router import Decision

        def t(name: str, type_: str, **options: object) -> ir.Target:
            return ir.Target(name, type_, ir.freeze(options))

        fast = {"attempts": 2, "initial": 0.01, "jitter": 0}
        closed = "http://127.0.0.1:9/hook"  # the discard port: nothing answers
        targets = {
            "E610": [t("hook", "http", url="{hook}/bad")],
            "E611": [t("hook", "http", url=closed, retry=fast)],
            "E612": [t("hook", "http", url=closed, retry=fast, dead_letter="dl"), t("dl", "http", url=closed, retry=fast)],
            "E613": [t("out", "stdout")],
            "E614": [t("hook", "http", url=closed, auth={"bearer_token_env": "RULES_ENGINE_NO_SUCH_VARIABLE"})],
        }[case]
        decision = Decision("r", targets[0].name, {"a": 1})
        if case == "E613":
            decision = Decision("r", "out", {"a": 1}, None, (("x-rules-engine-target", "out"),
                                                             ("x-rules-engine-error", "data.missing is missing")),
                                None, "dead_letter")

        async def go() -> str:
            if case == "E610":
                from delivery_helpers import webhook

                async with webhook() as hook:
                    hook.script["/bad"] = [(400, {}, 0)]
                    url = str(targets[0].options.get("url")).format(hook=hook.url)
                    return (await deliver([t("hook", "http", url=url)])).replace(hook.url, "http://127.0.0.1:PORT")
            return await deliver(targets)

        async def deliver(targets: list[ir.Target]) -> str:
            d = Dispatcher(targets)
            await d.start()
            res = await d.dispatch([decision], event={"a": 1}, version="v")
            await d.close(1)
            o = res.outcomes[0]
            return f"error[{o.code}]: {o.message}\n"

        return asyncio.run(go())

    return run


def _meaning_changed(_: Path) -> str:
    # The safety net behind convert and fmt: text that loads to other rules than the IR it was printed from.
    from rules_engine.author.convert import reload_check
    from rules_engine.loader import parse_source

    before, _ = parse_source(Source("a.rules", DSL_HEAD + "rule r {\n  when x == 1\n  route to out\n}\n"), "dsl")
    assert before is not None
    diag = reload_check("fmt", before, DSL_HEAD + "rule r {\n  when x == 2\n  route to out\n}\n", "dsl", "a.rules")
    assert diag is not None
    return render_text([diag]) + "\n"


def _rule_test(tests: str) -> Callable[[Path], str]:
    def run(tmp: Path) -> str:
        from rules_engine.author.testing import run_test_files

        (tmp / "rules.yaml").write_text(T + "rules:\n  - name: r\n    when: x == 1\n    targets: [out]\n")
        (tmp / "rules_test.yaml").write_text(tests)
        import os

        old = os.getcwd()
        os.chdir(tmp)
        try:
            (result,) = run_test_files(["rules_test.yaml"])
        finally:
            os.chdir(old)
        from rules_engine.loader import read_source

        src, _ = read_source(str(tmp / "rules_test.yaml"))
        assert src is not None
        return render_text(result.diagnostics, {"rules_test.yaml": Source("rules_test.yaml", src.text)}) + "\n"

    return run


def _lint(code: str) -> Callable[[Path], str]:
    # The planted fixture holds one of each lint finding (tests/test_author_lint.py).
    def run(_: Path) -> str:
        from rules_engine.author.lint import lint
        from rules_engine.loader import load_paths

        fixture = "tests/fixtures/lint/planted.yaml"
        res = load_paths([str(Path(__file__).resolve().parent / "fixtures" / "lint" / "planted.yaml")])
        assert res.ir is not None
        found = [d for d in lint(res.ir).diagnostics if d.code == code][:1]
        text = render_text(found, res.sources) + "\n"
        return text.replace(str(Path(__file__).resolve().parent.parent) + "/", "").replace(fixture, "planted.yaml")

    return run


CALLS.update({
    "W401": _lint("W401"),
    "W402": _lint("W402"),
    "W403": _lint("W403"),
    "W404": _lint("W404"),
    "W405": _lint("W405"),
    "W406": _lint("W406"),
    "E710": _rule_test("tests:\n  - name: t\n    event: {x: 1}\n    expect:\n      rulez: [r]\n"),
    "E711": _rule_test("tests:\n  - name: t\n    event: {x: 1}\n    expect:\n      rules: [r, missing]\n"),
    "E712": _rule_test("tests:\n  - name: t\n    event_file: recorded.jsonl\n    line: 3\n    expect:\n"
                       "      rules: [r]\n"),
    "E701": _convert(DSL_HEAD + "rule r {\n  when x == 1\n  when y == 2\n  route to out\n}\n", "two.rules", "dsl",
                     "yaml"),
    "E702": _meaning_changed,
})


CALLS.update({c: _delivery(c) for c in ("E610", "E611", "E612", "E613", "E614")})

# Codes reserved for later stages, without a producer yet; each must name its stage.
RESERVED = {
}


@pytest.mark.parametrize("code", sorted(FILES) + sorted(CALLS))
def test_golden(code: str, tmp_path: Path, golden) -> None:  # type: ignore[no-untyped-def]
    text = CALLS[code](tmp_path) if code in CALLS else _render_files(tmp_path, code)
    if code.startswith("E52"):
        assert text.strip() == codes.TABLE[code].template.split("{")[0].strip() or text.startswith("CEL")
    else:
        assert f"[{code}]" in text, text
    assert "Traceback" not in text
    golden.check(f"diagnostics/{code}.txt", text)


def test_every_code_has_a_golden_case() -> None:
    covered = set(FILES) | set(CALLS) | set(RESERVED)
    missing = sorted(set(codes.TABLE) - covered)
    assert missing == [], f"codes without a golden case: {missing}"
    stale = sorted(covered - set(codes.TABLE))
    assert stale == [], f"cases for codes that no longer exist: {stale}"
