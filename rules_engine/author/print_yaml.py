"""IR -> YAML rule-file text (used by ``convert --to yaml``).

Position in the pipeline::

    RuleSetIR ──**print_yaml**──▶ YAML text ──load + schema + lower──▶ same IR

The YAML format is narrower than the IR in a few places, and each raises
:class:`~.pattern_text.Inexpressible` naming the construct:

  * a rule has at most one filter of each kind (``match``, ``when``, ``cel``, ``cesql``, ``filters``), read
    in that order;
  * a transform has each key (``set``, ``rename``, ``drop``, ``keep``,
    ``payload``, input transformer) at most once, so steps of one kind must be
    adjacent (``set`` and ``rename`` keys unique) and ``drop`` / ``keep`` /
    ``payload`` steps single;
  * names follow the schema's pattern, and options cannot be called ``type``,
    ``transform`` or ``partition_key``.

Expressions are written as expression strings (CEL values as ``{cel: …}``), so
what the YAML loader reads back is what the rule language would parse.  The
text is dumped with PyYAML, whose YAML 1.1 quoting matches the loader
(``"yes"`` stays a string).

Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from rules_engine.author.exprs import expr_text
from rules_engine.author.pattern_text import Inexpressible, pattern_value
from rules_engine.expressions.render import render_path
from rules_engine.model import ir

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_RESERVED_OPTIONS = ("type", "transform", "partition_key")
_FILTER_ORDER = {"match": 0, "when": 1, "cel": 2, "cesql": 3, "filters": 4}


class _Flow(list[Any]):
    """A list printed on one line (``[a, b]``)."""


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Sequence items indented under their key ("rules:\n  - name: …"), as the samples write them.
        super().increase_indent(flow, False)


def _flow(dumper: yaml.SafeDumper, data: _Flow) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)


def _block_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    scalars = all(not isinstance(x, (dict, list)) for x in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=scalars and bool(data))


def _block_dict(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=False)


_Dumper.add_representer(_Flow, _flow)
_Dumper.add_representer(list, _block_list)
_Dumper.add_representer(dict, _block_dict)


def _name(name: str, what: str, span: Any) -> str:
    if not _NAME.match(name):
        raise Inexpressible(f"{what} {name!r}", "YAML names match ^[A-Za-z_][A-Za-z0-9_.-]*$", span)
    return name


def _value(e: ir.Expr) -> Any:
    """A transform value: an expression string, a plain scalar, or ``{cel: …}``."""
    if isinstance(e, ir.Cel):
        return {"cel": e.source}
    if isinstance(e, ir.Literal) and not isinstance(e.value, str):
        return e.value
    return expr_text(e)


def _payload(e: ir.Expr) -> Any:
    """A payload: objects and lists stay YAML structure, their leaves expression strings."""
    if isinstance(e, ir.ObjectExpr):
        return {k: _payload(v) for k, v in e.items}
    if isinstance(e, ir.ListExpr) and e.items:
        return [_payload(v) for v in e.items]
    if isinstance(e, ir.Literal) and not isinstance(e.value, str):
        return e.value
    return expr_text(e)


def _thaw(v: Any) -> Any:
    if isinstance(v, ir.FrozenMap):
        return {k: _thaw(x) for k, x in v.items}
    if isinstance(v, tuple):
        return [_thaw(x) for x in v]
    return v


def _transform(tr: ir.Transform, owner: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    last: str | None = None
    for step in tr.steps:
        key = {ir.SetField: "set", ir.Rename: "rename", ir.Drop: "drop", ir.Keep: "keep", ir.Replace: "payload",
               ir.InputTransformer: "input_paths_map"}[type(step)]
        if key in out and (last != key or key not in ("set", "rename")):
            raise Inexpressible(owner, f"YAML gives `{key}` once per transform, and this transform needs it again "
                                "after other steps", step.span)
        last = key
        if isinstance(step, ir.SetField):
            path = render_path(step.path)
            if path in out.setdefault("set", {}):
                raise Inexpressible(owner, f"`set` of {path} twice", step.span)
            out["set"][path] = _value(step.value)
        elif isinstance(step, ir.Rename):
            src = render_path(step.source)
            if src in out.setdefault("rename", {}):
                raise Inexpressible(owner, f"`rename` of {src} twice", step.span)
            out["rename"][src] = render_path(step.dest)
        elif isinstance(step, (ir.Drop, ir.Keep)):
            out[key] = [render_path(p) for p in step.paths]
        elif isinstance(step, ir.Replace):
            out["payload"] = _payload(step.value)
        else:
            assert isinstance(step, ir.InputTransformer)
            out["input_paths_map"] = dict(step.paths_map)
            out["input_template"] = step.template
    if tr.envelope is not None:
        env = tr.envelope
        body: dict[str, Any] = {"format": "cloudevents"}
        for name, v in (("type", env.type), ("source", env.source), ("subject", env.subject)):
            if v is not None:
                body[name] = _value(v)
        if env.extensions:
            body["extensions"] = {n: _value(v) for n, v in env.extensions}
        out["envelope"] = body
    return out


def _target(t: ir.Target) -> dict[str, Any]:
    body: dict[str, Any] = {"type": t.type}
    for key, value in t.options.items:
        if key in _RESERVED_OPTIONS:
            raise Inexpressible(f"target {t.name!r}", f"an option named {key!r} has no place in YAML", t.span)
        body[key] = _thaw(value)
    if t.transform is not None:
        body["transform"] = _transform(t.transform, f"target {t.name!r}")
    if t.partition_key is not None:
        body["partition_key"] = expr_text(t.partition_key)
    return body


def _rule(r: ir.Rule) -> dict[str, Any]:
    out: dict[str, Any] = {"name": _name(r.name, "rule", r.span)}
    if r.description is not None:
        out["description"] = r.description
    if r.priority:
        out["priority"] = r.priority
    if not r.enabled:
        out["enabled"] = False
    order = [_FILTER_ORDER[f.kind] for f in r.filters]
    if order != sorted(set(order)):
        raise Inexpressible(f"rule {r.name!r}", "YAML has at most one filter of each kind (match, when, cel, "
                            "cesql, filters), checked in that order; join the conditions into one filter", r.span)
    for f in r.filters:
        if f.kind == "match":
            assert isinstance(f.node, ir.EventPattern)
            out["match"] = _pattern(pattern_value(f.node))
        elif f.kind == "cel":
            assert isinstance(f.node, ir.Cel)
            out["cel"] = f.node.source
        elif f.kind == "cesql":
            assert isinstance(f.node, ir.Cesql)
            out["cesql"] = f.node.source
        elif f.kind == "filters":
            assert isinstance(f.node, ir.SubscriptionFilter)
            out["filters"] = [_subscription(x) for x in f.node.items]
        else:
            out["when"] = expr_text(f.node)  # type: ignore[arg-type]
    if r.transform is not None:
        out["transform"] = _transform(r.transform, f"rule {r.name!r}")
    if r.targets:
        out["targets"] = _Flow(_name(t.name, "target", t.span) for t in r.targets)
    if r.on_match != "continue":
        out["on_match"] = r.on_match
    if r.on_error != "skip":
        out["on_error"] = r.on_error
    return out


def _subscription(f: ir.SubscriptionFilter) -> dict[str, Any]:
    """A Knative / Subscriptions API filter expression (the older ``filter: {attributes}`` comes back
    as the ``filters: [{exact: ...}]`` it means)."""
    if f.dialect in ("exact", "prefix", "suffix"):
        return {f.dialect: dict(f.attributes)}
    if f.dialect in ("all", "any"):
        return {f.dialect: [_subscription(x) for x in f.items]}
    if f.dialect == "not":
        return {"not": _subscription(f.items[0])}
    assert f.cesql is not None
    return {"cesql": f.cesql.source}


def _pattern(v: Any) -> Any:
    """Pattern leaves (value lists) on one line, objects as blocks."""
    if isinstance(v, dict):
        if all(not isinstance(x, (dict, list)) for x in v.values()) and len(v) == 1:
            return v
        return {k: _pattern(x) for k, x in v.items()}
    if isinstance(v, list) and all(not isinstance(x, list) for x in v):
        if any(isinstance(x, dict) and any(isinstance(y, dict) and "$or" not in x for y in x.values()) for x in v):
            return [_pattern(x) for x in v]
        return _Flow(v)
    if isinstance(v, list):
        return [_pattern(x) for x in v]
    return v


def yaml_document(rs: ir.RuleSetIR) -> dict[str, Any]:
    """The YAML rule file of a rule set, as plain data in the canonical key order."""
    doc: dict[str, Any] = {}
    if rs.metadata.items:
        doc["metadata"] = _thaw(rs.metadata)
    if not rs.deduplicate:
        doc["deduplicate"] = False
    if rs.targets:
        doc["targets"] = {_name(t.name, "target", t.span): _target(t) for t in rs.targets}
    if rs.default_targets:
        doc["default_targets"] = _Flow(_name(t.name, "target", t.span) for t in rs.default_targets)
    if rs.rules:
        doc["rules"] = [_rule(r) for r in rs.rules]
    return doc


def print_yaml(rs: ir.RuleSetIR) -> str:
    """The rule set as one YAML file (raises :class:`Inexpressible`)."""
    doc = yaml_document(rs)
    text = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=4096, indent=2)
    # A blank line between rules reads better in review; it changes nothing.
    # Only the rule list is indented by exactly two spaces and has items starting "- name:".
    return text.replace("\n  - name: ", "\n\n  - name: ").replace("rules:\n\n", "rules:\n")
