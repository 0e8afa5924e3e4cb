"""The CloudEvents HTTP protocol binding 1.0, receiving side: an HTTP request -> events.

Position in the pipeline::

    POST /events ──**read_events**──▶ [event dict] ──▶ ingest queue ──▶ RuleSet.evaluate ──▶ Dispatcher

The content mode is decided by ``Content-Type`` alone, as the binding says (section 3.1):

* ``application/cloudevents-batch+json`` — batched mode: a JSON array of structured events;
* ``application/cloudevents+json`` (or ``application/cloudevents``) — structured mode: one JSON event;
  another ``+format`` is refused (415), since JSON is the only event format read here;
* anything else with a ``ce-specversion`` header — binary mode: attributes from ``ce-*`` headers
  (names lowercased; values percent-decoded as UTF-8, section 3.1.3.2, a malformed ``%`` sequence or
  invalid UTF-8 is refused), ``Content-Type`` is ``datacontenttype``, the body is ``data``;
* ``ce-*`` headers without ``ce-specversion`` — a binary-mode event missing its version (E660);
* no ``ce-*`` header and a JSON media type (or none) — a plain JSON event: the body is the event itself.

Every event handed on is the JSON form of a CloudEvent (attributes at the top level, ``data`` decoded when
``datacontenttype`` is JSON, text kept as a string, other bytes as ``data_base64``), which is what rules
read (``type``, ``source``, ``data.total``).  Bad input raises :class:`IngestError` with a code; nothing here
raises anything else.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from typing import Any, Final

import orjson

from rules_engine.model import codes
from rules_engine.model.values import kind_of
from rules_engine.serve.errors import IngestError

__all__ = ["BATCH", "BINARY", "PLAIN", "STRUCTURED", "read_events", "percent_decode", "content_mode"]

BINARY: Final = "binary"
STRUCTURED: Final = "structured"
BATCH: Final = "batch"
PLAIN: Final = "plain"

REQUIRED: Final = ("id", "source", "specversion", "type")
# Attribute names: lowercase letters and digits only (CloudEvents 1.0, "Attribute Naming Convention").
_NAME = re.compile(r"^[a-z0-9]{1,64}$")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# orjson refuses documents nested deeper than this; named here so the refusal can say it.
MAX_JSON_DEPTH: Final = 1024


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type value, lowercased, without parameters."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def _is_json(mt: str) -> bool:
    return mt in ("application/json", "text/json") or mt.endswith("+json")


def content_mode(content_type: str | None, headers: Iterable[tuple[str, str]]) -> str:
    """Which of the binding's content modes (or a plain JSON event) a request uses."""
    mt = media_type(content_type)
    if mt.startswith("application/cloudevents-batch"):
        return BATCH
    if mt.startswith("application/cloudevents"):
        return STRUCTURED
    if any(k.startswith("ce-") for k, _ in headers):
        return BINARY
    return PLAIN


def percent_decode(header: str, value: str) -> str:
    """Section 3.1.3.2: ``%xy`` sequences are UTF-8 bytes; anything else in the value is itself."""
    if "%" not in value:
        return value
    if _BAD_PERCENT.search(value):
        raise IngestError.of(400, codes.CE_PERCENT_ENCODING, header=header, detail="'%' not followed by two hex digits")
    raw = re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), value)
    try:
        return raw.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise IngestError.of(400, codes.CE_PERCENT_ENCODING, header=header,
                             detail="the decoded bytes are not UTF-8") from None


def _loads(body: bytes, what: str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        msg = str(e)
        if "depth limit" in msg or "recursion" in msg.lower():
            raise IngestError.of(400, codes.CE_TOO_DEEP, what=what, limit=MAX_JSON_DEPTH) from None
        raise IngestError.of(400, codes.CE_BAD_JSON, what=what,
                             detail=f"{e.msg} (line {e.lineno}, column {e.colno})") from None


def _plain_valid(ev: Any) -> bool:
    """The common case of :func:`_check_event`, without building its error context: an object with
    ``specversion`` "1.0", non-empty string ``id``, ``source`` and ``type``, and no ``data_base64``.
    False sends the event through ``_check_event`` (which names the problem, or accepts data_base64)."""
    if type(ev) is not dict or "data_base64" in ev or ev.get("specversion") != "1.0":
        return False
    i, s, t = ev.get("id"), ev.get("source"), ev.get("type")
    return type(i) is str and type(s) is str and type(t) is str and bool(i) and bool(s) and bool(t)


def _check_event(ev: Any, what: str) -> dict[str, Any]:
    """A structured-mode event (JSON format): an object with the required attributes, version 1.0."""
    if not isinstance(ev, dict):
        raise IngestError.of(400, codes.CE_NOT_OBJECT, what=what, expected="a JSON object", found=kind_of(ev))
    where = f" in {what}"
    for name in REQUIRED:
        if name not in ev:
            raise IngestError.of(400, codes.CE_MISSING_ATTRIBUTE, name=name, where=where)
    if ev["specversion"] != "1.0":
        raise IngestError.of(400, codes.CE_SPECVERSION, version=str(ev["specversion"]))
    for name in ("id", "source", "type"):
        v = ev[name]
        if not isinstance(v, str) or not v:
            raise IngestError.of(400, codes.CE_BAD_ATTRIBUTE, name=name, detail="must be a non-empty string")
    if "data_base64" in ev:
        if "data" in ev:
            raise IngestError.of(400, codes.CE_BAD_ATTRIBUTE, name="data_base64",
                                 detail="an event holds 'data' or 'data_base64', not both")
        encoded = ev["data_base64"]
        try:
            if not isinstance(encoded, str):
                raise ValueError
            base64.b64decode(encoded, validate=True)
        except ValueError:  # binascii.Error is a ValueError
            raise IngestError.of(400, codes.CE_BAD_ATTRIBUTE, name="data_base64",
                                 detail="must be a string of base64 (RFC 4648, with padding)") from None
    return ev


def _binary(headers: Iterable[tuple[str, str]], content_type: str | None, body: bytes) -> dict[str, Any]:
    ev: dict[str, Any] = {}
    for key, value in headers:
        if not key.startswith("ce-"):
            continue
        name = key[3:]
        if not _NAME.match(name):
            raise IngestError.of(400, codes.CE_BAD_ATTRIBUTE, name=name,
                                 detail="attribute names are lowercase letters and digits, 1 to 64 of them")
        if name in ("data", "data_base64"):
            raise IngestError.of(400, codes.CE_BAD_ATTRIBUTE, name=name, detail="is the body in binary mode")
        ev[name] = percent_decode(key, value)
    if "specversion" not in ev:
        raise IngestError.of(400, codes.CE_MISSING_ATTRIBUTE, name="specversion", where=" (header 'ce-specversion')")
    for name in REQUIRED:
        if name not in ev:
            raise IngestError.of(400, codes.CE_MISSING_ATTRIBUTE, name=name, where=f" (header 'ce-{name}')")
    if ev["specversion"] != "1.0":
        raise IngestError.of(400, codes.CE_SPECVERSION, version=ev["specversion"])
    for name in ("id", "source", "type"):
        if not ev[name]:
            raise IngestError.of(400, codes.CE_BAD_ATTRIBUTE, name=name, detail="must be a non-empty string")
    if content_type:
        ev["datacontenttype"] = content_type
    if body:
        mt = media_type(content_type)
        if not mt or _is_json(mt):
            ev["data"] = _loads(body, "the event data")
        elif mt.startswith("text/"):
            try:
                ev["data"] = body.decode("utf-8")
            except UnicodeDecodeError:
                ev["data_base64"] = base64.b64encode(body).decode("ascii")
        else:
            ev["data_base64"] = base64.b64encode(body).decode("ascii")
    return ev


def read_events(content_type: str | None, headers: Iterable[tuple[str, str]], body: bytes,
                *, max_batch: int) -> tuple[str, list[dict[str, Any]]]:
    """The content mode and the events of one request (``headers`` lowercased names, raw values)."""
    headers = list(headers)
    mode = content_mode(content_type, headers)
    mt = media_type(content_type)
    if mode == BATCH:
        if mt not in ("application/cloudevents-batch+json", "application/cloudevents-batch"):
            raise IngestError.of(415, codes.UNSUPPORTED_MEDIA_TYPE, content_type=content_type,
                                 detail="batches are read in the JSON format only")
        doc = _loads(body, "the batch")
        if not isinstance(doc, list):
            raise IngestError.of(400, codes.CE_NOT_OBJECT, what="a batch", expected="a JSON array", found=kind_of(doc))
        if len(doc) > max_batch:
            raise IngestError.of(413, codes.BATCH_TOO_LARGE, count=len(doc), limit=max_batch)
        return mode, [ev if _plain_valid(ev) else _check_event(ev, f"batch item {i}") for i, ev in enumerate(doc)]
    if mode == STRUCTURED:
        if mt not in ("application/cloudevents+json", "application/cloudevents"):
            raise IngestError.of(415, codes.UNSUPPORTED_MEDIA_TYPE, content_type=content_type,
                                 detail="structured events are read in the JSON format only")
        return mode, [_check_event(_loads(body, "the event"), "the event")]
    if mode == BINARY:
        return mode, [_binary(headers, content_type, body)]
    if mt and not _is_json(mt):
        raise IngestError.of(415, codes.UNSUPPORTED_MEDIA_TYPE, content_type=content_type,
                             detail="send JSON, a CloudEvent in structured or batched mode, or ce-* headers")
    doc = _loads(body, "the event")
    if not isinstance(doc, dict):
        raise IngestError.of(400, codes.CE_NOT_OBJECT, what="an event", expected="a JSON object", found=kind_of(doc))
    return mode, [doc]
