"""The console's handlers: parse the request, read the live state, render a template (thin, like the API's).

Invariants: no handler changes the live rule set or the dispatcher; every page answers the same
authentication as the API; a bad sandbox input is shown as diagnostics on the page, never a 500.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jinja2
import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from rules_engine.compile import compile_ruleset, structure_graph
from rules_engine.model.errors import render_text
from rules_engine.ruleset import RuleSet
from rules_engine.serve.console.graph import svg
from rules_engine.serve.console.sandbox import MAX_SANDBOX_BYTES, run_sandbox

HERE = Path(__file__).resolve().parent
COOKIE = "rules_engine_console"
CSP = "default-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
"""Pages load only the console's own assets; no inline script, no framing."""
FORM_LIMIT = 3 * MAX_SANDBOX_BYTES
"""Largest form body read (event and draft together, URL-encoded)."""
MAX_SAMPLES = 40
"""Sample events offered in the sandbox (from *.jsonl files beside the rule files), at most."""

_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                          autoescape=jinja2.select_autoescape(("html",)), undefined=jinja2.StrictUndefined)


def _state(request: Request) -> Any:
    return request.app.state.sidecar


def _authorised(request: Request) -> bool:
    """The same bearer tokens as the API (header, or the console's cookie), each compared in constant time."""
    tokens: Mapping[str, str] = _state(request).tokens
    if not tokens:
        return True
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    given = presented.strip() if scheme.lower() == "bearer" else request.cookies.get(COOKIE, "")
    found = False
    for token in tokens:
        found |= hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode("utf-8"))
    return found


def _page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    st = _state(request)
    rs: RuleSet = st.live.current
    html = _ENV.get_template(template).render(
        version=rs.version, page=template.removesuffix(".html"), root=request.scope.get("root_path", ""),
        reload_ok=st.live.status.last_reload_successful, **context)
    return HTMLResponse(html, status_code=status,
                        headers={"Content-Security-Policy": CSP,
                                 "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                                 "Cache-Control": "no-store"})


def _guard(request: Request) -> Response | None:
    if _authorised(request):
        return None
    if request.url.path.startswith("/ui/api/"):
        return Response(orjson.dumps({"error": {"status": 401, "message": "a bearer token is required"}}),
                        status_code=401, media_type="application/json",
                        headers={"WWW-Authenticate": 'Bearer realm="rules-engine"'})
    return RedirectResponse("/ui/login", status_code=303)


def _when(dt: datetime | None) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if dt else "never"


def _rule_texts(rs: RuleSet) -> dict[tuple[str, int], str]:
    """Each rule as written in its file (YAML or the rule language), keyed by (file, line).

    A rule's span marks where it starts; it ends before the next rule of the same file, or earlier
    where its YAML item's indentation closes (a top-level key follows) or its braces balance.
    """
    out: dict[tuple[str, int], str] = {}
    by_file: dict[str, list[int]] = {}
    for rule in rs.rules:
        by_file.setdefault(rule.file, []).append(rule.span.line)
    for name, starts in by_file.items():
        src = rs.sources.get(name)
        if src is None:
            continue
        lines = src.text.splitlines()
        starts = sorted(set(starts))
        for i, first in enumerate(starts):
            stop = starts[i + 1] - 1 if i + 1 < len(starts) else len(lines)
            out[(name, first)] = _one_rule(lines, first, stop, name.endswith((".yaml", ".yml")))
    return out


def _one_rule(lines: list[str], first: int, stop: int, yaml: bool) -> str:
    chunk = lines[first - 1: stop]
    if not chunk:
        return ""
    head = chunk[0]
    indent = len(head) - len(head.lstrip(" -")) if yaml else 0
    kept = [head]
    depth = head.count("{") - head.count("}")
    for line in chunk[1:]:
        body = line.strip()
        if yaml and body and not body.startswith("#") and len(line) - len(line.lstrip()) < indent:
            break
        if not yaml and depth <= 0 and body:
            break
        kept.append(line)
        depth += line.count("{") - line.count("}")
    while kept and (not kept[-1].strip() or kept[-1].strip().startswith("#")):
        kept.pop()
    lead = min((len(x) - len(x.lstrip(" -")) for x in kept if x.strip()), default=0)
    return "\n".join(x[lead:] if len(x) >= lead else x.strip() for x in kept)


async def rules_page(request: Request) -> Response:
    if (r := _guard(request)) is not None:
        return r
    st = _state(request)
    rs: RuleSet = st.live.current
    status = st.live.status
    query = request.query_params.get("q", "").strip()
    rows = []
    texts = _rule_texts(rs)
    for rule in rs.rules:
        text = texts.get((rule.file, rule.span.line), "")
        haystack = " ".join([rule.name, text, *(t.name for t in rule.targets)]).lower()
        if query and query.lower() not in haystack:
            continue
        rows.append({"name": rule.name, "file": rule.file, "line": rule.span.line, "text": text,
                     "priority": rule.priority, "on_match": rule.on_match, "enabled": rule.enabled,
                     "targets": [t.name for t in rule.targets], "description": rule.description or ""})
    attempt = status.last_attempt
    return _page(request, "rules.html", rules=rows, query=query, total=len(rs.rules),
                 targets=[{"name": t.name, "type": t.type} for t in rs.targets],
                 files=sorted(rs.sources), loaded_at=_when(status.loaded_at), paths=status.paths,
                 attempt=None if attempt is None else {
                     "ok": attempt.ok, "at": _when(attempt.at), "trigger": attempt.trigger,
                     "version": attempt.version, "message": attempt.message,
                     "rendered": attempt.rendered or render_text(list(attempt.diagnostics), {}),
                     "duration_ms": round(attempt.duration_s * 1000, 1)},
                 reloads=dict(status.reloads))


def _samples(rs: RuleSet) -> list[dict[str, str]]:
    """Example events from ``*.jsonl`` files in the folders of the rule files (bounded)."""
    out: list[dict[str, str]] = []
    folders = sorted({str(Path(name).parent) for name in rs.sources})
    for folder in folders:
        for f in sorted(Path(folder).glob("*.jsonl")):
            try:
                if not f.is_file() or f.stat().st_size > MAX_SANDBOX_BYTES:
                    continue
                lines = f.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                continue
            for i, line in enumerate(lines, 1):
                if line.strip():
                    out.append({"id": f"{f.name}:{i}", "text": _pretty(line)})
                if len(out) >= MAX_SAMPLES:
                    return out
    return out


def _pretty(line: str) -> str:
    try:
        return orjson.dumps(orjson.loads(line), option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONDecodeError:
        return line


async def _form(request: Request) -> dict[str, str]:
    """An URL-encoded form body (what the console's forms send), read within a bound."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > FORM_LIMIT:
            return {"_too_large": "1"}
    return dict(parse_qsl(b"".join(chunks).decode("utf-8", "replace"), keep_blank_values=True))


async def sandbox_page(request: Request) -> Response:
    if (r := _guard(request)) is not None:
        return r
    rs: RuleSet = _state(request).live.current
    samples = _samples(rs)
    form: Mapping[str, str] = {}
    if request.method == "POST":
        form = await _form(request)
        if form.get("_too_large"):
            return _page(request, "sandbox.html", status=413, samples=samples, chosen="", event="", draft="",
                         draft_format="yaml", result=None, error="the form is larger than the sandbox accepts")
    chosen = str(request.query_params.get("sample") or form.get("sample") or "")
    event = str(form.get("event") or "")
    if not event:
        pick = next((s for s in samples if s["id"] == chosen), samples[0] if samples else None)
        event = pick["text"] if pick else '{\n  "type": "example"\n}'
    draft = str(form.get("draft") or "")
    draft_format = str(form.get("draft_format") or "yaml")
    # A draft recompiles the whole rule set: off the event loop, so ingest is not held up meanwhile.
    result = await asyncio.to_thread(run_sandbox, rs, event, draft, draft_format) if request.method == "POST" else None
    return _page(request, "sandbox.html", samples=samples, chosen=chosen, event=event, draft=draft,
                 draft_format=draft_format, result=result, error="")



async def structure_page(request: Request) -> Response:
    if (r := _guard(request)) is not None:
        return r
    rs: RuleSet = _state(request).live.current
    cache = request.app.state.console_graphs
    picture = cache.get(rs.version)
    if picture is None:
        picture = await asyncio.to_thread(lambda: svg(*structure_graph(compile_ruleset(rs.ir))))
        cache.clear()  # one version at a time: bounded
        cache[rs.version] = picture
    return _page(request, "structure.html", picture=picture)


def _samples_of(metric: Any) -> Iterable[tuple[str, Mapping[str, str], float]]:
    for family in metric.collect():
        for s in family.samples:
            if s.name.endswith("_total"):
                yield s.name, s.labels, s.value


def traffic(metrics: Any) -> dict[str, Any]:
    """Per rule and per target counts from the sidecar's Prometheus counters (the same figures as /metrics)."""
    rules: dict[str, float] = {}
    for _, labels, value in _samples_of(metrics.rule_matched):
        rules[labels["rule"]] = rules.get(labels["rule"], 0) + value
    targets: dict[str, dict[str, float]] = {}
    for key, metric in (("delivered", metrics.delivered), ("retried", metrics.retried),
                        ("dead_lettered", metrics.dead_lettered), ("failed", metrics.failed)):
        for _, labels, value in _samples_of(metric):
            row = targets.setdefault(labels["target"], {"delivered": 0, "retried": 0, "dead_lettered": 0,
                                                        "failed": 0})
            row[key] += value
    received = sum(v for _, _, v in _samples_of(metrics.events_received))
    return {"at": time.time(), "received": received, "rules": rules, "targets": targets,
            "dead_letters": list(getattr(metrics, "recent_dead_letters", ()))[::-1]}


async def traffic_page(request: Request) -> Response:
    if (r := _guard(request)) is not None:
        return r
    st = _state(request)
    data = traffic(st.metrics)
    rule_names = [r.name for r in st.live.current.rules]
    for name in rule_names:
        data["rules"].setdefault(name, 0)
    for t in st.live.current.targets:
        data["targets"].setdefault(t.name, {"delivered": 0, "retried": 0, "dead_lettered": 0, "failed": 0})
    letters = [{**d, "when": _when(datetime.fromtimestamp(d["at"], UTC))} for d in data["dead_letters"]]
    return _page(request, "traffic.html", data=data, letters=letters)


async def traffic_api(request: Request) -> Response:
    if (r := _guard(request)) is not None:
        return r
    return Response(orjson.dumps(traffic(_state(request).metrics)), media_type="application/json",
                    headers={"Cache-Control": "no-store"})


async def login_page(request: Request) -> Response:
    if not _state(request).tokens:
        return RedirectResponse("/ui/", status_code=303)
    if request.method == "GET":
        return _page(request, "login.html", error="")
    form = await _form(request)
    token = form.get("token", "")
    tokens: Mapping[str, str] = _state(request).tokens
    ok = False
    for known in tokens:
        ok |= hmac.compare_digest(token.encode("utf-8", "surrogateescape"), known.encode("utf-8"))
    if not ok:
        return _page(request, "login.html", status=401, error="That token is not valid.")
    resp = RedirectResponse("/ui/", status_code=303)
    resp.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https",
                    path="/ui")
    return resp


async def index(request: Request) -> Response:
    return RedirectResponse("/ui/", status_code=307)


def console_routes(app: Any) -> list[BaseRoute]:
    """The console's routes, to add to the sidecar app (which holds ``state.sidecar``)."""
    app.state.console_graphs = {}
    return [
        Route("/ui", index, methods=["GET"]),
        Route("/ui/", rules_page, methods=["GET"]),
        Route("/ui/sandbox", sandbox_page, methods=["GET", "POST"]),
        Route("/ui/structure", structure_page, methods=["GET"]),
        Route("/ui/traffic", traffic_page, methods=["GET"]),
        Route("/ui/api/traffic", traffic_api, methods=["GET"]),
        Route("/ui/login", login_page, methods=["GET", "POST"]),
        Mount("/ui/static", app=StaticFiles(directory=HERE / "static"), name="console-static"),
    ]
