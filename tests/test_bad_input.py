"""Hostile and unusual rule files: a diagnostic with a code and a position, exit 1,
bounded time and memory — never a traceback, never a hang.  CRLF line endings and a
byte-order mark are ordinary input: accepted, with positions still right."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules_engine.cli.main import main

GOOD = "targets:\n  out: {type: stdout}\nrules:\n  - name: r\n    when: x > 1\n    targets: [out]\n"


def bomb() -> str:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    prev = "a"
    for n in "bcdefghi":
        text += f"{n}: &{n} [" + ",".join(["*" + prev] * 9) + "]\n"
        prev = n
    return text


CASES = [
    pytest.param("bad.yaml", b"targets:\n  out: {type: \xff\xfe}\n", "E100", "bad.yaml:2:15", id="not-utf8"),
    pytest.param("empty.yaml", b"", "E101", "empty.yaml:1:1", id="empty-yaml"),
    pytest.param("empty.rules", b"  \n# nothing\n", "E101", "empty.rules:1:1", id="empty-rules"),
    pytest.param("bomb.yaml", bomb().encode(), "E103", "bomb.yaml:6:", id="billion-laughs"),
    pytest.param("big.yaml", b"# " + b"x" * (10 * 1024 * 1024) + b"\n", "E104", "big.yaml:1:1", id="10mb-file"),
    pytest.param(
        "deep.yaml",
        ("targets: {out: {type: stdout}}\nrules:\n  - name: r\n    when: '" + "(" * 5000 + "x" + ")" * 5000 + "'\n"
         "    targets: [out]\n").encode(),
        "E105",
        "deep.yaml:4:",
        id="5000-deep-expression-yaml",
    ),
    pytest.param(
        "deep.rules",
        ("target out = stdout\nrule r {\n  when " + "(" * 5000 + "x" + ")" * 5000 + "\n  route to out\n}\n").encode(),
        "E105",
        "deep.rules:3:",
        id="5000-deep-expression-rules",
    ),
    pytest.param("deep2.yaml", ("[" * 5000 + "]" * 5000).encode(), "E105", "deep2.yaml:1:", id="5000-deep-yaml"),
    pytest.param("tabs.yaml", b"targets:\n\tout: {type: stdout}\n", "E102", "tabs.yaml:2:1", id="tab-indentation"),
    pytest.param(
        "crlf.yaml", GOOD.replace("[out]", "[nope]").replace("\n", "\r\n").encode(), "E302", "crlf.yaml:6:15",
        id="crlf-error-position",
    ),
    pytest.param(
        "bom.yaml", b"\xef\xbb\xbf" + GOOD.replace("[out]", "[nope]").encode(), "E302", "bom.yaml:6:15",
        id="bom-error-position",
    ),
    pytest.param("list.yaml", b"- 1\n- 2\n", "E111", "list.yaml:1:1", id="not-a-mapping"),
    pytest.param(
        "tag.yaml", b"targets: !!python/object/apply:os.system ['true']\n", "E115", "tag.yaml:1:10", id="python-tag"
    ),
]


@pytest.mark.parametrize("name, data, code, where", CASES)
def test_bad_file(tmp_path: Path, name: str, data: bytes, code: str, where: str, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_bytes(data)
    rc = main(["validate", str(path)])
    out = capsys.readouterr().out
    assert rc == 1
    assert f"error[{code}]" in out
    assert f"{tmp_path}/{where}" in out
    assert "Traceback" not in out


@pytest.mark.parametrize(
    "name, data",
    [
        pytest.param("crlf.yaml", GOOD.replace("\n", "\r\n").encode(), id="crlf"),
        pytest.param("bom.yaml", b"\xef\xbb\xbf" + GOOD.encode(), id="bom"),
        pytest.param("tabs.rules", b"target out = stdout\nrule r {\n\twhen x > 1\n\troute to out\n}\n", id="tabs-in-rules"),
        pytest.param(
            "crlf-bom.rules", b"\xef\xbb\xbftarget out = stdout\r\nrule r {\r\n  when x > 1\r\n  route to out\r\n}\r\n",
            id="crlf-bom-rules",
        ),
    ],
)
def test_unusual_but_valid(tmp_path: Path, name: str, data: bytes, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_bytes(data)
    assert main(["validate", str(path)]) == 0, capsys.readouterr().out
