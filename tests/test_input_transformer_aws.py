"""Input transformers where we differed from what AWS delivers (issue 9, defects 18-22), checked
against LocalStack's AWS-recorded snapshots of input-transformer deliveries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

import rules_engine
from rules_engine import RuleError
from rules_engine.model import ir
from rules_engine.patterns.input_transformer import check_input_transformer, compile_input_transformer

NOW = datetime(2026, 11, 20, 10, 0, 5, tzinfo=UTC)
EVENT = {"version": "0", "id": "1", "detail-type": "cmd", "source": "app", "time": "2026-11-20T10:00:00Z",
         "detail": {"payload": {"a": 1}, "list": [1, 2], "name": "x"}}


def _rules(transform: str, on_error: str = "skip") -> str:
    return ("targets:\n  out: {type: stdout}\nrules:\n  - name: r\n    when: exists(detail)\n"
            f"    on_error: {on_error}\n    transform:\n{transform}    targets: [out]\n")


def _run(paths: tuple[tuple[str, str], ...], template: str, now: datetime | None = NOW) -> Any:
    it = ir.InputTransformer(paths, template)
    assert check_input_transformer(it) == []
    fn = compile_input_transformer(it)
    assert fn is not None
    return fn(EVENT, "r", now)


def test_missing_path_is_empty_string_in_json() -> None:
    """Defect 18: AWS delivers "" (recorded 2025), not null; text stays empty as before."""
    assert _run((("command", "$.detail.command"),), '{"command": <command>}') == {"command": ""}
    assert _run((("command", "$.detail.command"),), "run <command>!") == "run !"


def test_event_without_detail_as_aws_delivers_it() -> None:
    """Defect 19: detailType, and time as the ingestion time in epoch milliseconds."""
    out = _run((), '{"e": <aws.events.event>}')["e"]
    assert out == {"version": "0", "id": "1", "detailType": "cmd", "source": "app",
                   "time": int(NOW.timestamp() * 1000)}
    # Without an ingestion time the event's own time stands in.
    no_clock = _run((), '{"e": <aws.events.event>}', now=None)["e"]
    assert no_clock["time"] == int(datetime(2026, 11, 20, 10, 0, tzinfo=UTC).timestamp() * 1000)
    assert _run((), '{"j": <aws.events.event.json>}')["j"] == EVENT  # unchanged, as before


@pytest.mark.parametrize("template", ['{"x": <notdefinedkey>}', "text <notdefinedkey>", '{"s": "a <notdefinedkey>"}'])
def test_undefined_placeholder_is_refused_at_load(template: str) -> None:
    """Defect 20: AWS refuses the target ("invalid placeholder notdefinedkey")."""
    text = _rules(f"      input_paths_map: {{name: $.detail.name}}\n      input_template: '{template}'\n")
    with pytest.raises(RuleError) as ei:
        rules_engine.loads(text, name="t.yaml")
    [d] = ei.value.diagnostics
    assert d.code == "E373" and "<notdefinedkey>" in d.message and (d.file, d.line) == ("t.yaml", 8)


def test_template_without_paths_map_is_accepted() -> None:
    """Defect 21: a template of reserved variables only, as AWS accepts it."""
    text = _rules("      input_template: '{\"rule\": <aws.events.rule-name>, \"event\": <aws.events.event.json>}'\n")
    [d] = rules_engine.loads(text).evaluate(EVENT)
    assert d.payload == {"rule": "r", "event": EVENT}
    dsl = ('target out = stdout()\nrule r {\n  when exists(detail)\n'
           '  input transformer { template: "{\\"rule\\": <aws.events.rule-name>}" }\n  route to out\n}\n')
    [d] = rules_engine.loads(dsl, format="dsl").evaluate(EVENT)
    assert d.payload == {"rule": "r"}


@pytest.mark.parametrize(
    "template,var,kind",
    [
        pytest.param('{"payload": "<payload>"}', "payload", "an object", id="object-in-quotes"),
        pytest.param('{"x": "users/<payload>"}', "payload", "an object", id="object-in-text"),
        pytest.param('{"item": "<list>"}', "list", "an array", id="array-in-quotes"),
    ],
)
def test_object_inside_a_json_string_is_a_transform_error(template: str, var: str, kind: str) -> None:
    """Defect 22: AWS pastes the JSON text, the result is not JSON and the target gets nothing; here
    the transform fails with E516 and on_error decides."""
    tr = f"      input_paths_map: {{payload: $.detail.payload, list: $.detail.list}}\n      input_template: '{template}'\n"
    [skip] = rules_engine.loads(_rules(tr)).evaluate(EVENT)
    assert skip.action == "skip" and skip.error is not None and skip.error.code == "E516"
    assert f"<{var}> is {kind}" in skip.error.message
    [dead] = rules_engine.loads(_rules(tr, "dead_letter")).evaluate(EVENT)
    assert dead.action == "dead_letter" and dead.payload == EVENT
    [filled] = rules_engine.loads(_rules(tr, "null_fill")).evaluate(EVENT)
    assert filled.action == "deliver" and filled.payload is None
    # A text value in the same place is fine.
    ok = {**EVENT, "detail": {"payload": "p", "list": "l"}}
    [d] = rules_engine.loads(_rules(tr)).evaluate(ok)
    assert d.action == "deliver"


@pytest.mark.parametrize("path", ["$", "$.detail.list[*]", "$.detail.*"])
def test_object_or_array_path_inside_a_string_is_refused_at_load(path: str) -> None:
    """Defect 22, where the path's kind is known when the rules load."""
    it = ir.InputTransformer((("v", path),), '{"x": "a <v>"}')
    [d] = check_input_transformer(it)
    assert d.code == "E373" and "<v> is an" in d.message
    assert check_input_transformer(ir.InputTransformer((("v", path),), '{"x": <v>}')) == []
    assert check_input_transformer(ir.InputTransformer((("v", path),), "plain <v> text")) == []
