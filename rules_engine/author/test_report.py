"""Rendering rule unit test results: text for people, JSON for tools, JUnit XML for CI systems.

Position in the pipeline::

    [FileResult] (rules_engine/author/testing.py) ──**render_text / render_json / render_junit**──▶ report
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from rules_engine.author.testing import FileResult
from rules_engine.model.errors import render_text as render_diagnostics


def counts(results: Sequence[FileResult]) -> dict[str, int]:
    cases = [c for r in results for c in r.cases]
    return {"files": len(results), "tests": len(cases), "passed": sum(c.ok for c in cases),
            "failed": sum(not c.ok for c in cases), "errors": sum(len(r.diagnostics) for r in results)}


def coverage_of(results: Sequence[FileResult]) -> list[dict[str, Any]]:
    return [{"file": r.file, "rules": r.rules, **r.coverage.summary()} for r in results if r.coverage is not None]


def total_coverage(results: Sequence[FileResult]) -> float:
    covered = total = 0
    for r in results:
        if r.coverage is not None:
            t = r.coverage.summary()["total"]
            covered += t["covered"]
            total += t["total"]
    return 100.0 * covered / total if total else 100.0


def render_text(results: Sequence[FileResult], verbose: bool = False) -> str:
    out: list[str] = []
    for r in results:
        if r.diagnostics:
            out.append(render_diagnostics(r.diagnostics))
        for c in r.cases:
            if c.ok:
                if verbose:
                    out.append(f"PASS {c.file}:{c.line}: {c.name}")
                continue
            out.append(f"FAIL {c.file}:{c.line}: {c.name}")
            out.extend("  " + line for f in c.failures for line in f.split("\n"))
            if c.explain:
                out.append("  explain:")
                out.extend(f"    {e}" for e in c.explain)
        if r.coverage is not None:
            s = r.coverage.summary()
            out.append(f"coverage of {', '.join(r.rules)}: rules {_pct(s['rules'])}, targets {_pct(s['targets'])}, "
                       f"conditions {_pct(s['conditions'])}; total {_pct(s['total'])}")
            for n in s["missed"]["rules"]:
                out.append(f"  not exercised: rule {n}")
            for n in s["missed"]["targets"]:
                out.append(f"  not exercised: target {n}")
            for c in s["missed"]["conditions"]:
                out.append(f"  not exercised: rule {c['rule']} line {c['line']}: {c['condition']}")
    n = counts(results)
    out.append(f"{n['tests']} test(s) in {n['files']} file(s): {n['passed']} passed, {n['failed']} failed, "
               f"{n['errors']} error(s)")
    return "\n".join(out) + "\n"


def _pct(part: dict[str, Any]) -> str:
    return f"{part['covered']}/{part['total']} ({part['percent']}%)"


def render_json(results: Sequence[FileResult]) -> str:
    doc: dict[str, Any] = {
        "summary": counts(results),
        "files": [{
            "file": r.file,
            "rules": r.rules,
            "diagnostics": [d.to_dict() for d in r.diagnostics],
            "tests": [{"name": c.name, "line": c.line, "passed": c.ok, "failures": c.failures,
                       "explain": c.explain} for c in r.cases],
        } for r in results],
    }
    cov = coverage_of(results)
    if cov:
        doc["coverage"] = cov
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render_junit(results: Sequence[FileResult]) -> str:
    n = counts(results)
    suites = ET.Element("testsuites", name="rules-engine test", tests=str(n["tests"]), failures=str(n["failed"]),
                        errors=str(n["errors"]))
    for r in results:
        suite = ET.SubElement(suites, "testsuite", name=r.file, tests=str(len(r.cases)),
                              failures=str(sum(not c.ok for c in r.cases)), errors=str(len(r.diagnostics)))
        for c in r.cases:
            case = ET.SubElement(suite, "testcase", classname=r.file, name=c.name, file=r.file, line=str(c.line),
                                 time=f"{c.seconds:.6f}")
            if not c.ok:
                fail = ET.SubElement(case, "failure", message=c.failures[0].split("\n")[0])
                fail.text = "\n".join(c.failures + (["explain:"] + c.explain if c.explain else []))
        for d in r.diagnostics:
            case = ET.SubElement(suite, "testcase", classname=r.file, name=f"{d.code} {d.message}", file=r.file)
            err = ET.SubElement(case, "error", message=f"{d.code}: {d.message}", type=d.code)
            err.text = render_diagnostics([d])
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
