"""The sidecar's configuration: a YAML file read and checked like a rule file (codes and positions).

Position in the pipeline::

    sidecar.yaml ──load_yaml (positions)──▶ **load_config** ──▶ SidecarConfig ──▶ create_app / run_server

The frozen dataclasses below are the whole schema: :func:`load_config` walks their type hints, so an
option exists in exactly one place.  Unknown options are E650 (with a "did you mean" note), a value of the
wrong type E651, a value out of range E652, an unreadable file E653, a token that cannot be read E654.
Every diagnostic points at the option in the file.  Defaults are chosen for a sidecar on loopback.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from rules_engine.loader import read_source
from rules_engine.model import codes
from rules_engine.model.errors import Diagnostic, RuleError
from rules_engine.model.source import Locator, Pointer, Source
from rules_engine.syntax.schema import pointer_text, yaml_kind
from rules_engine.syntax.yaml_loader import load_yaml

__all__ = [
    "AuthConfig", "DedupConfig", "DurableIngestConfig", "LimitsConfig", "ListenConfig", "LoggingConfig",
    "PublisherConfig", "QueueConfig", "ReadinessConfig", "ReloadConfig", "SidecarConfig", "SourceConfig", "TlsConfig",
    "TracingConfig",
    "load_config", "parse_config",
]


def _opt(default: Any, minimum: float | None = None, maximum: float | None = None) -> Any:
    return field(default=default, metadata={"min": minimum, "max": maximum})


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """TLS for the listener; ``client_ca_file`` with ``client_cert: required`` is mTLS."""

    cert_file: str
    key_file: str
    client_ca_file: str | None = None
    client_cert: Literal["none", "optional", "required"] = "none"


@dataclass(frozen=True, slots=True)
class ListenConfig:
    host: str = "127.0.0.1"
    port: int = _opt(8080, 0, 65535)
    tls: TlsConfig | None = None


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    max_body_bytes: int = _opt(1024 * 1024, 1)
    max_batch_events: int = _opt(1000, 1)
    max_header_bytes: int = _opt(16 * 1024, 256)


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """The bounded queue between ingest and dispatch (jobs: one request or one broker fetch each)."""

    size: int = _opt(256, 1)
    workers: int = _opt(8, 1, 1024)
    retry_after: int = _opt(1, 0)


@dataclass(frozen=True, slots=True)
class PublisherConfig:
    """One producer: its bearer token (from a file or an environment variable) and what it may send.

    ``sources``/``types`` are shell-style patterns (``/checkout/*``); empty means anything.
    """

    name: str
    token_env: str | None = None
    token_file: str | None = None
    sources: tuple[str, ...] = ()
    types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AuthConfig:
    publishers: tuple[PublisherConfig, ...] = ()


@dataclass(frozen=True, slots=True)
class ReadinessConfig:
    """Targets that must be reachable for ``/readyz``; ``None`` means every target of the rule set."""

    targets: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class ReloadConfig:
    watch: bool = True
    debounce: float = _opt(0.2, 0.0)
    poll_interval: float = _opt(2.0, 0.05)


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "text"] = "json"
    access_log: bool = False


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """A durable broker source (acknowledged after delivery).

    ``type: jetstream`` reads ``stream`` through the durable pull consumer ``durable`` (filter ``subject``);
    ``type: redis`` reads the Redis stream ``stream`` in the consumer group ``group`` (the event JSON in the
    entry's ``field``), claiming entries idle for ``claim_idle`` seconds from dead consumers; ``type: amqp``
    consumes the RabbitMQ quorum queue ``stream`` with a prefetch of ``batch``; ``type: mqtt`` subscribes at
    QoS 1 to the topic filter ``stream`` as the MQTT 5 shared subscription ``$share/<group>/<stream>``,
    client id ``consumer``, in a persistent session kept ``session_expiry`` seconds by the broker.
    """

    name: str
    type: Literal["jetstream", "redis", "amqp", "mqtt"]
    stream: str
    subject: str | None = None
    # default: nats://127.0.0.1:4222, redis://127.0.0.1:6379/0, amqp://guest:guest@127.0.0.1:5672/,
    # mqtt://127.0.0.1:1883
    url: str | None = None
    durable: str = "rules-engine"
    group: str = "rules-engine"
    consumer: str | None = None  # default: host name and process id
    field: str = "event"
    claim_idle: float = _opt(30.0, 0.01)
    batch: int = _opt(64, 1, 10_000)
    max_deliver: int = _opt(5, 1)
    nak_delay: float = _opt(1.0, 0.0)
    ack_wait: float = _opt(30.0, 1.0)
    session_expiry: int = _opt(3600, 0, 4_294_967_295)  # MQTT: seconds the broker keeps the session
    max_event_bytes: int = _opt(1024 * 1024, 1)
    dead_letter: str | None = None


@dataclass(frozen=True, slots=True)
class DurableIngestConfig:
    """Durable ingest: ``POST /events`` answers 202 once its events are stored in this JetStream stream, and
    the sidecar routes them from there (a JetStream source on the same stream, acked after delivery).

    Each event is published with ``Nats-Msg-Id`` = its CloudEvents ``source`` and ``id``, so the stream's
    duplicate window (``dedup_window`` seconds) drops a repeated event, whichever replica received it.
    """

    stream: str
    subject: str
    url: str = "nats://127.0.0.1:4222"
    durable: str = "rules-engine-ingest"
    dedup_window: float = _opt(120.0, 0.0)
    batch: int = _opt(64, 1, 10_000)
    max_deliver: int = _opt(5, 1)
    nak_delay: float = _opt(1.0, 0.0)
    dead_letter: str | None = None

    def source(self) -> SourceConfig:
        """The source that routes what this ingest stored."""
        return SourceConfig("ingest", "jetstream", self.stream, self.subject, url=self.url, durable=self.durable,
                            batch=self.batch, max_deliver=self.max_deliver, nak_delay=self.nak_delay,
                            dead_letter=self.dead_letter)


@dataclass(frozen=True, slots=True)
class TracingConfig:
    """OpenTelemetry traces (the ``otel`` extra): one span per event, one child span per delivery.

    ``exporter: otlp`` sends them to ``endpoint`` (OTLP over HTTP), ``console`` prints them, ``global`` hands
    them to the tracer provider the process already set up (``opentelemetry-instrument``, or an embedding app).
    """

    enabled: bool = False
    service_name: str = "rules-engine"
    exporter: Literal["otlp", "console", "global"] = "otlp"
    endpoint: str = "http://127.0.0.1:4318/v1/traces"


@dataclass(frozen=True, slots=True)
class DedupConfig:
    """Deduplication of incoming events by CloudEvents (``source``, ``id``), shared by every replica through
    one Redis: ``SET <key_prefix>... NX EX`` claims an event, a copy seen within ``window`` seconds is
    acknowledged and counted, not routed."""

    url: str = "redis://127.0.0.1:6379/0"
    window: int = _opt(120, 1)
    key_prefix: str = "rules-engine:dedup:"


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    """The web console at ``/ui`` (docs/console.md): read-only, behind the same bearer tokens as the API."""

    enabled: bool = False


@dataclass(frozen=True, slots=True)
class SidecarConfig:
    """Everything ``rules-engine serve`` reads from ``--config`` (every field has a default)."""

    listen: ListenConfig = ListenConfig()
    limits: LimitsConfig = LimitsConfig()
    queue: QueueConfig = QueueConfig()
    auth: AuthConfig = AuthConfig()
    readiness: ReadinessConfig = ReadinessConfig()
    reload: ReloadConfig = ReloadConfig()
    logging: LoggingConfig = LoggingConfig()
    sources: tuple[SourceConfig, ...] = ()
    durable_ingest: DurableIngestConfig | None = None
    console: ConsoleConfig = ConsoleConfig()
    tracing: TracingConfig = TracingConfig()
    dedup: DedupConfig | None = None
    ack_timeout: float = _opt(30.0, 0.1)
    drain_timeout: float = _opt(20.0, 0.0)


MAX_CONFIG_BYTES = 1024 * 1024
"""Largest sidecar config file read."""
MAX_TOKEN_BYTES = 64 * 1024
"""Largest token file read."""


def load_config(path: str | os.PathLike[str]) -> SidecarConfig:
    """Read and check a sidecar config file; raise :class:`RuleError` (E1xx YAML, E65x options)."""
    # Through the rule files' reader: only a regular file, at most MAX_CONFIG_BYTES, valid UTF-8
    # (a FIFO or /dev/zero given by mistake is refused instead of read forever).
    source, diags = read_source(str(path), MAX_CONFIG_BYTES)
    if source is None:
        # the reader's message names the path too ("cannot read 'x': why"): keep only the why
        detail = diags[0].message.rpartition("': ")[2] if diags else "unreadable"
        raise RuleError([codes.SIDECAR_UNREADABLE.at(None, path=str(path), detail=detail)])
    return parse_config(source)


def parse_config(source: Source) -> SidecarConfig:
    """Check a sidecar config held in ``source``; raise :class:`RuleError` with every problem found."""
    value, locator, diags = load_yaml(source)
    if diags:
        raise RuleError(diags, {source.name: source})
    if value is None:
        value = {}
    out: list[Diagnostic] = []
    cfg = _build(SidecarConfig, value, (), locator, out)
    if isinstance(cfg, SidecarConfig):
        _check_cross(cfg, locator, out)
    if out or not isinstance(cfg, SidecarConfig):
        raise RuleError(out, {source.name: source})
    return cfg


def _where(pointer: Pointer) -> str:
    return pointer_text(pointer, "the sidecar config")


_BAD = object()  # a value that failed its check (already reported)


def _build(tp: Any, value: Any, ptr: Pointer, loc: Locator, out: list[Diagnostic]) -> Any:
    """``value`` converted to type ``tp``, or ``_BAD`` after reporting why not."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _build(args[0], value, ptr, loc, out)
    if dataclasses.is_dataclass(tp):
        return _build_section(tp, value, ptr, loc, out)
    if origin is tuple:
        item = typing.get_args(tp)[0]
        if not isinstance(value, list):
            out.append(codes.SIDECAR_WRONG_TYPE.at(loc.value(ptr), where=_where(ptr), expected="a list",
                                                   found=yaml_kind(value)))
            return _BAD
        items = [_build(item, v, (*ptr, i), loc, out) for i, v in enumerate(value)]
        return _BAD if any(v is _BAD for v in items) else tuple(items)
    if origin is Literal:
        options = typing.get_args(tp)
        if value not in options:
            notes = [f"one of: {', '.join(map(str, options))}"]
            out.append(codes.SIDECAR_BAD_VALUE.at(loc.value(ptr), notes, where=_where(ptr),
                                                  detail=f"{value!r} is not allowed"))
            return _BAD
        return value
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
    }[tp]
    if not ok:
        expected = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[tp]
        out.append(codes.SIDECAR_WRONG_TYPE.at(loc.value(ptr), where=_where(ptr), expected=expected,
                                               found=yaml_kind(value)))
        return _BAD
    return float(value) if tp is float else value


def _build_section(cls: Any, value: Any, ptr: Pointer, loc: Locator, out: list[Diagnostic]) -> Any:
    if not isinstance(value, dict):
        out.append(codes.SIDECAR_WRONG_TYPE.at(loc.value(ptr), where=_where(ptr), expected="a mapping",
                                               found=yaml_kind(value)))
        return _BAD
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    bad = False
    for key, v in value.items():
        kptr = (*ptr, key)
        f = fields.get(key)
        if f is None:
            close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.6)
            notes = [f"did you mean {close[0]!r}?"] if close else [f"known options: {', '.join(fields)}"]
            out.append(codes.SIDECAR_UNKNOWN_OPTION.at(loc.key(kptr), notes, name=key, where=_where(ptr)))
            bad = True
            continue
        built = _build(hints[key], v, kptr, loc, out)
        if built is _BAD:
            bad = True
            continue
        lo, hi = f.metadata.get("min"), f.metadata.get("max")
        if isinstance(built, (int, float)) and not isinstance(built, bool) and (
            (lo is not None and built < lo) or (hi is not None and built > hi)
        ):
            rng = f"at least {lo}" if hi is None else f"between {lo} and {hi}"
            out.append(codes.SIDECAR_BAD_VALUE.at(loc.value(kptr), where=_where(kptr),
                                                  detail=f"{built} is out of range: must be {rng}"))
            bad = True
            continue
        kwargs[key] = built
    missing = [n for n, f in fields.items() if n not in value and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    for n in missing:
        out.append(codes.SIDECAR_BAD_VALUE.at(loc.value(ptr), where=_where(ptr), detail=f"option {n!r} is required"))
        bad = True
    return _BAD if bad else cls(**kwargs)


def _check_cross(cfg: SidecarConfig, loc: Locator, out: list[Diagnostic]) -> None:
    """Checks between options: one token source per publisher, unique names, TLS files exist."""
    names: set[str] = set()
    for i, p in enumerate(cfg.auth.publishers):
        ptr: Pointer = ("auth", "publishers", i)
        if (p.token_env is None) == (p.token_file is None):
            out.append(codes.SIDECAR_BAD_VALUE.at(loc.value(ptr), where=_where(ptr),
                                                  detail="give exactly one of 'token_env' and 'token_file'"))
        if p.name in names:
            out.append(codes.SIDECAR_BAD_VALUE.at(loc.value((*ptr, "name")), where=_where((*ptr, "name")),
                                                  detail=f"publisher {p.name!r} is defined twice"))
        names.add(p.name)
    tls = cfg.listen.tls
    if tls is not None:
        for opt in ("cert_file", "key_file", "client_ca_file"):
            path = getattr(tls, opt)
            if path is not None and not Path(path).is_file():
                tptr: Pointer = ("listen", "tls", opt)
                out.append(codes.SIDECAR_BAD_VALUE.at(loc.value(tptr), where=_where(tptr),
                                                      detail=f"no such file {path!r}"))
        if tls.client_cert != "none" and tls.client_ca_file is None:
            tptr = ("listen", "tls", "client_cert")
            out.append(codes.SIDECAR_BAD_VALUE.at(loc.value(tptr), where=_where(tptr),
                                                  detail="client certificates need 'client_ca_file'"))
    seen: set[str] = set()
    for i, s in enumerate(cfg.sources):
        if s.type == "jetstream" and s.subject is None:
            jptr: Pointer = ("sources", i)
            out.append(codes.SIDECAR_BAD_VALUE.at(loc.value(jptr), where=_where(jptr),
                                                  detail="a jetstream source needs 'subject'"))
        if s.type == "mqtt":
            _check_mqtt(s, ("sources", i), loc, out)
        if s.name in seen:
            sptr: Pointer = ("sources", i, "name")
            out.append(codes.SIDECAR_BAD_VALUE.at(loc.value(sptr), where=_where(sptr),
                                                  detail=f"source {s.name!r} is defined twice"))
        seen.add(s.name)


def _check_mqtt(s: SourceConfig, ptr: Pointer, loc: Locator, out: list[Diagnostic]) -> None:
    """An MQTT source's topic filter, share group and URL, as MQTT 5.0 (4.7, 4.8.2) allows them."""
    problems: list[tuple[str, str]] = []
    topic = s.stream
    levels = topic.split("/")
    if not topic or "\x00" in topic:
        problems.append(("stream", "an MQTT topic filter is a non-empty string without NUL"))
    elif topic.startswith("$share/"):
        problems.append(("stream", "give the topic without '$share/<group>/': the share group is 'group'"))
    elif any(("+" in lv and lv != "+") or ("#" in lv and lv != "#") for lv in levels):
        problems.append(("stream", f"{topic!r}: a wildcard '+' or '#' must be a whole topic level"))
    elif "#" in levels[:-1]:
        problems.append(("stream", f"{topic!r}: '#' may only be the last topic level"))
    if not s.group or any(c in s.group for c in "/+#\x00"):
        problems.append(("group", f"{s.group!r}: a share group name is non-empty, without '/', '+', '#'"))
    if s.url is not None:
        url = urlsplit(s.url)
        try:
            port_ok = url.port is None or 0 < url.port
        except ValueError:
            port_ok = False
        if url.scheme != "mqtt" or not url.hostname or not port_ok:
            problems.append(("url", f"{s.url!r}: expected mqtt://[user:password@]host[:port]"))
    for opt, detail in problems:
        optr: Pointer = (*ptr, opt)
        out.append(codes.SIDECAR_BAD_VALUE.at(loc.value(optr), where=_where(optr), detail=detail))


def read_tokens(cfg: AuthConfig, environ: typing.Mapping[str, str] | None = None) -> dict[str, str]:
    """Each publisher's bearer token, read once at start: token -> publisher name.

    Raises :class:`RuleError` (E654) when a token is missing or empty.  The error names the variable or
    file, never the token.
    """
    env = os.environ if environ is None else environ
    tokens: dict[str, str] = {}
    problems: list[Diagnostic] = []
    for p in cfg.publishers:
        where = f"auth.publishers[{p.name}]"
        token: str | None
        if p.token_env is not None:
            token = env.get(p.token_env)
            if not token:
                problems.append(codes.SIDECAR_SECRET.at(None, where=where,
                                                        detail=f"environment variable {p.token_env!r} is not set"))
                continue
        else:
            assert p.token_file is not None
            src, _ = read_source(p.token_file, MAX_TOKEN_BYTES)  # its diagnostics could quote the file: not shown
            if src is None:
                problems.append(codes.SIDECAR_SECRET.at(
                    None, where=where, detail=f"cannot read token file {p.token_file!r}: not a readable regular "
                    f"UTF-8 file of at most {MAX_TOKEN_BYTES} bytes"))
                continue
            token = src.text.strip()
            if not token:
                problems.append(codes.SIDECAR_SECRET.at(None, where=where,
                                                        detail=f"token file {p.token_file!r} is empty"))
                continue
        if token in tokens:  # one token, two publishers: which allow-list applies would be ambiguous
            problems.append(codes.SIDECAR_SECRET.at(None, where=where,
                                                    detail=f"its token is also the token of {tokens[token]!r}"))
            continue
        tokens[token] = p.name
    if problems:
        raise RuleError(problems)
    return tokens
