"""The ``http`` target (webhook): one request per message, many in flight, with httpx.

Position in the pipeline: Dispatcher ─▶ **HttpAdapter** ─▶ an HTTP endpoint.

What is retried follows Knative's data plane: 404, 408, 409, 429, every 5xx
and connection errors are transient (``Retry-After`` is honoured on 429 and
503); every other 4xx is permanent and goes to the dead letter at once, with
the status and an excerpt of the body.  Credentials come from environment
variables named in the rule file, never from the rule file itself.

``mode`` chooses the body: ``json`` (the payload as JSON, headers as HTTP
headers), ``binary`` (a CloudEvent: attributes as ``ce-*`` headers, the data
as the body) or ``structured`` (the whole CloudEvent as
``application/cloudevents+json``).  A payload that already is a CloudEvent
(it has ``specversion``, e.g. from an ``envelope`` transform) keeps its
attributes; otherwise one is made (id = the message id, source
``/rules-engine/<target>``, type ``rules-engine.<rule>``).  Message headers
become extension attributes named without dashes (``x-rules-engine-attempts``
→ ``rulesengineattempts``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import orjson

from rules_engine.deliver.adapters.common import body, client_library
from rules_engine.deliver.base import CONFIRMED, AdapterUnavailable, Health, Message, SendResult, permanent, transient

__all__ = ["HttpAdapter", "ce_extension_name", "retry_after"]

RETRYABLE_STATUS = frozenset({404, 408, 409, 429})
BODY_EXCERPT = 200


def ce_extension_name(header: str) -> str:
    """A header name as a CloudEvents extension attribute name (lower-case letters and digits)."""
    name = "".join(ch for ch in header.lower() if ch.isalnum())
    return name.removeprefix("x") if header.lower().startswith("x-") else name


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    v = value.strip()
    if v.isdigit():
        return float(v)
    try:
        when = parsedate_to_datetime(v)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class HttpAdapter:
    options_schema: ClassVar[Mapping[str, Any]] = {
        "required": ["url"],
        "properties": {
            "url": {
                "type": "string",
                "pattern": "^https?://[^/\\s]+",
                "x-message": "url must start with http:// or https:// and name a host",
            },
            "method": {"enum": ["POST", "PUT", "PATCH"]},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "mode": {"enum": ["json", "binary", "structured"]},
            "tls": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "verify": {"type": "boolean"},
                    "ca_file": {"type": "string", "minLength": 1},
                    "cert_file": {"type": "string", "minLength": 1},
                    "key_file": {"type": "string", "minLength": 1},
                },
            },
            "auth": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "bearer_token_env": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                    "username_env": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                    "password_env": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                },
                "oneOf": [{"required": ["bearer_token_env"]}, {"required": ["username_env", "password_env"]}],
                "x-message": "auth takes bearer_token_env, or username_env and password_env "
                "(names of environment variables)",
            },
        },
    }

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        self.url = str(options["url"])
        self.method = str(options.get("method", "POST"))
        self.headers = dict(options.get("headers") or {})
        self.mode = str(options.get("mode", "json"))
        self.timeout = float(options.get("timeout", 10.0))
        self.tls = dict(options.get("tls") or {})
        self.auth_opts = dict(options.get("auth") or {})
        self.max_in_flight = int(options.get("max_in_flight", 256))
        self._client: Any = None
        self._httpx: Any = None

    def _auth(self) -> Any:
        httpx = self._httpx
        env = os.environ
        if "bearer_token_env" in self.auth_opts:
            var = self.auth_opts["bearer_token_env"]
            if var not in env:
                raise AdapterUnavailable(f"environment variable {var} (bearer token) is not set")
            self.headers.setdefault("Authorization", f"Bearer {env[var]}")
            return None
        if "username_env" in self.auth_opts:
            u, p = self.auth_opts["username_env"], self.auth_opts["password_env"]
            missing = [v for v in (u, p) if v not in env]
            if missing:
                raise AdapterUnavailable(f"environment variable(s) {', '.join(missing)} (basic auth) not set")
            return httpx.BasicAuth(env[u], env[p])
        return None

    async def open(self) -> None:
        with client_library("http"):
            import httpx
        self._httpx = httpx
        verify: Any = self.tls.get("verify", True)
        if "ca_file" in self.tls and verify:
            verify = self.tls["ca_file"]
        cert: str | tuple[str, str] | None = None
        if "cert_file" in self.tls:
            cert_file = str(self.tls["cert_file"])
            cert = (cert_file, str(self.tls["key_file"])) if "key_file" in self.tls else cert_file
        limits = httpx.Limits(
            max_connections=min(self.max_in_flight, 100), max_keepalive_connections=min(self.max_in_flight, 100)
        )
        self._client = httpx.AsyncClient(
            verify=verify, cert=cert, auth=self._auth(), timeout=self.timeout, limits=limits, headers=self.headers
        )

    def _request(self, m: Message) -> tuple[bytes, dict[str, str]]:
        if self.mode == "json":
            return body(m.payload), {"content-type": "application/json", **dict(m.headers)}
        p = m.payload
        if isinstance(p, Mapping) and "specversion" in p:
            attrs = {k: v for k, v in p.items() if k not in ("data", "data_base64")}
            data = p.get("data")
        else:
            attrs = {
                "specversion": "1.0",
                "id": m.id,
                "source": f"/rules-engine/{m.target}",
                "type": f"rules-engine.{m.rule}",
                "datacontenttype": "application/json",
            }
            data = p
        for k, v in m.headers:
            attrs.setdefault(ce_extension_name(k), v)
        if self.mode == "structured":
            return orjson.dumps({**attrs, "data": data}), {
                "content-type": "application/cloudevents+json; charset=utf-8"
            }
        headers = {f"ce-{k}": str(v) for k, v in attrs.items() if k != "datacontenttype"}
        headers["content-type"] = str(attrs.get("datacontenttype", "application/json"))
        return body(data), headers

    async def _one(self, m: Message) -> SendResult:
        httpx = self._httpx
        content, headers = self._request(m)
        try:
            r = await self._client.request(self.method, self.url, content=content, headers=headers)
        except httpx.TimeoutException as e:
            return transient("timeout", f"{type(e).__name__}: no answer within {self.timeout:g}s")
        except httpx.TransportError as e:
            return transient("connection", f"{type(e).__name__}: {e}")
        if 200 <= r.status_code < 300:
            return CONFIRMED
        excerpt = r.text[:BODY_EXCERPT]
        detail = f"HTTP {r.status_code} {r.reason_phrase}: {excerpt}".rstrip(": ")
        code = f"http-{r.status_code}"
        if r.status_code in RETRYABLE_STATUS or r.status_code >= 500:
            ra = retry_after(r.headers.get("retry-after")) if r.status_code in (429, 503) else None
            return transient(code, detail, ra)
        return permanent(code, detail)

    async def send(self, batch: Sequence[Message]) -> Sequence[SendResult]:
        return await asyncio.gather(*(self._one(m) for m in batch))

    async def health(self) -> Health:
        return Health(self._client is not None, self.url)

    async def close(self, timeout: float) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await asyncio.wait_for(client.aclose(), timeout)
