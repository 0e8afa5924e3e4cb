"""Positions inside multi-line YAML strings map back to the file exactly (issue 9, defect 5):
folded (``>-``), multi-line plain, multi-line and escaped double-quoted, single-quoted with a
doubled quote, and literal (``|``) scalars."""

from __future__ import annotations

import pytest

import rules_engine
from rules_engine import RuleError

HEAD = "targets: {out: {type: stdout}}\nrules:\n  - name: r\n    targets: [out]\n"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param('    when: >-\n      type == "x" and\n      lowr(data.name) == "y"\n', id="folded"),
        pytest.param('    when: >\n      type == "x"\n\n      and lowr(data.name) == "y"\n', id="folded-keep-blank"),
        pytest.param('    when: type == "x"\n      and\n      lowr(data.name) == "y"\n', id="plain-multi-line"),
        pytest.param('    when: "type == \\"x\\" and\n      lowr(data.name) == \\"y\\""\n', id="double-quoted"),
        pytest.param('    when: "type == \\"\\u00e9\\" and \\\n      lowr(data.name) == \\"y\\""\n',
                     id="double-quoted-escapes"),
        pytest.param("    when: 'type == ''x'' and\n      lowr(data.name) == ''y'''\n", id="single-quoted"),
        pytest.param('    when: |\n      type == "x" and\n      lowr(data.name) == "y"\n', id="literal"),
        pytest.param('    when: \'type == "x" and lowr(data.name) == "y"\'\n', id="one-line-quoted"),
        pytest.param('    when: "type == \\"\\u00e9\\" and lowr(data.name) == \\"y\\""\n', id="one-line-escape"),
    ],
)
def test_unknown_function_is_reported_where_it_is_written(body: str) -> None:
    text = HEAD + body
    [where] = [(n, line.index("lowr") + 1) for n, line in enumerate(text.splitlines(), 1) if "lowr" in line]
    with pytest.raises(RuleError) as ei:
        rules_engine.loads(text, name="f.yaml")
    [d] = [d for d in ei.value.diagnostics if d.code == "E306"]
    assert (d.line, d.column) == where, str(ei.value)


def test_folded_cel_error_position() -> None:
    """The `cel: >-` form of sample-rules/monitoring/alerts.yaml."""
    text = HEAD + '    cel: >-\n      type == "x" &&\n      data.total > 1 &&\n      nosuch(data.x)\n'
    with pytest.raises(RuleError) as ei:
        rules_engine.loads(text, name="f.yaml")
    [d] = ei.value.diagnostics
    assert (d.code, d.line, d.column) == ("E340", 8, 7), str(ei.value)
