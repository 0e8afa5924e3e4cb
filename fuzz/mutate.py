"""Structure-aware mutators: JSON-like trees, YAML text, rule-language tokens, raw bytes.

Every mutator is a pure function of a ``random.Random`` and its input, so a case
is reproduced from its seed alone.  Sizes are bounded (``MAX_ITEMS``, ``MAX_TEXT``)
so a mutant can grow big enough to expose super-linear evaluation (a list of a
few hundred items, a string of a few thousand characters) but never so big that
merely building it costs the budget.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Sequence
from typing import Any

import yaml

MAX_ITEMS = 400
MAX_TEXT = 4000
MAX_DEPTH = 40

# Keys JSON can hold that code generators and decoders find awkward.
AWKWARD_KEYS = [
    'say "hi"', "back\\slash", "tab\there", "nl\nx", "\x00", "\x1f", "", " ", "$", "$or", "a.b", "a-b",
    "😀", "\u2028", "__class__", "self", "None", "def", "0", "-1", "1e3", "'", "{x}", "%s", "\\u0000",
    "detail-type", "prefix", "numeric", "exists", "anything-but",
]
INTERESTING_NUMBERS: list[Any] = [
    0, -0.0, 1, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), 2**64, 10**30, 0.1, 1e3, 1.5e-7, 1e308, -1e308,
    5e-324, 3.0, 1000, 1e21,
]
INTERESTING_STRINGS = [
    "", " ", "a" * 30 + "!", "GIFT-1", "order.created", "10.0.0.1", "::ffff:10.0.0.1", "10.0.0.0/8",
    "2026-11-20T10:00:00Z", "é", "\u0000", "\udcff"[:0] + "\ufffd", "*", "a*b*c", "\\*", "null", "true", "1e3",
    "x" * 300, "ab" * 200, "<payload>", "$.detail", "${x}", "\"quoted\"", "back\\slash", "line\nbreak",
]
YAML_TOKENS = [
    "&a ", "*a", "!!str ", "!!python/object ", ".nan", ".inf", "-.inf", "1e3", "0x10", "1_000", "~", "null",
    ">-\n  ", "|\n  ", "? ", ": ", "- ", "{", "}", "[", "]", "'", '"', "\t", "\n", "#", "<<: *a", "%YAML 1.2\n",
    "---\n", "...\n", "\ufeff", "yes", "on", "0o17", "+1", ".5", "1e999",
]
DSL_TOKENS = [
    "rule", "target", "when", "match", "cel", "route", "to", "and", "or", "not", "in", "any", "all", "matches",
    "starts", "ends", "with", "contains", "priority", "stop", "on", "default", "payload", "set", "drop", "keep",
    "rename", "partition", "by", "==", "!=", "<", ">", "<=", ">=", "(", ")", "{", "}", "[", "]", ",", ":", ".",
    '"x"', "'y'", "1", "1e3", "1e999", "-0", "null", "true", "false", "data", "type", "i", "x", "exists", "size",
    '"^(a+)+$"', '"\\\\"', '"\\u0000"', "#", "\n", "data[\"a\\\"b\"]", "i.x", "stdout()", "http(url: \"x\")",
]
# Bodies that stress the evaluators when put where a filter goes.
STRESS_FILTERS = [
    {"cel": 'data.items.exists(i, i.sku.startsWith("GIFT-"))'},
    {"cel": "data.items.all(i, i.qty > 0)"},
    {"cel": "data.items.exists_one(i, i == 1)"},
    {"cel": "data.items.map(i, i).filter(j, j == 1).size() > 0"},
    {"cel": 'data.items.exists(i, data.items.exists(j, i == j))'},
    {"when": "any(i in data.items: i.sku starts with \"GIFT-\")"},
    {"when": "all(i in data.items: i.qty > 0)"},
    {"when": 'data.name matches "^(a+)+$"'},
    {"when": 'data.name matches "(x+x+)+y"'},
    {"match": {"data": {"name": [{"wildcard": "*a*a*a*a*a*a*b"}]}}},
    {"match": {"data": {"items": {"sku": [{"prefix": "GIFT-"}]}}}},
    {"match": {"data": {'say "hi"': ["x"], "back\\slash": [1]}}},
    {"when": 'data["back\\\\slash"] == 1'},
]


def pick(rng: random.Random, seq: Sequence[Any]) -> Any:
    return seq[rng.randrange(len(seq))]


def interesting_value(rng: random.Random, depth: int = 0) -> Any:
    r = rng.random()
    if r < 0.3:
        return pick(rng, INTERESTING_NUMBERS)
    if r < 0.6:
        return pick(rng, INTERESTING_STRINGS)
    if r < 0.7:
        return pick(rng, [None, True, False])
    if r < 0.8 and depth < 3:
        return [interesting_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if r < 0.9 and depth < 3:
        return {pick(rng, AWKWARD_KEYS): interesting_value(rng, depth + 1) for _ in range(rng.randrange(4))}
    return rng.choice(["a", "ab", "x" * rng.randrange(1, 64)])


def _paths(v: Any, prefix: tuple[Any, ...] = (), out: list[tuple[Any, ...]] | None = None,
           depth: int = 0) -> list[tuple[Any, ...]]:
    out = [] if out is None else out
    out.append(prefix)
    if depth > MAX_DEPTH:
        return out
    if isinstance(v, dict):
        for k, x in v.items():
            _paths(x, prefix + (k,), out, depth + 1)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            _paths(x, prefix + (i,), out, depth + 1)
    return out


def _get(v: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        v = v[p]
    return v


def _set(root: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = _get(root, path[:-1])
    parent[path[-1]] = value
    return root


def _copy(v: Any) -> Any:
    return json.loads(json.dumps(v)) if _jsonable(v) else v


def _jsonable(v: Any) -> bool:
    try:
        json.dumps(v, allow_nan=True)
        return True
    except (TypeError, ValueError):
        return False


def mutate_tree(rng: random.Random, value: Any, donors: Sequence[Any] = (), rounds: int = 0) -> Any:
    """One to four structural edits of a JSON-like tree (a copy; the input is untouched)."""
    v = _copy(value)
    for _ in range(rounds or rng.randint(1, 4)):
        paths = _paths(v)
        path = pick(rng, paths)
        node = _get(v, path)
        op = rng.randrange(12)
        if op == 0:  # replace by an interesting value
            v = _set(v, path, interesting_value(rng))
        elif op == 1 and isinstance(node, dict) and node:  # rename a key (awkward characters)
            k = pick(rng, list(node))
            node[pick(rng, AWKWARD_KEYS) if rng.random() < 0.6 else str(k) + pick(rng, AWKWARD_KEYS)] = node.pop(k)
        elif op == 2 and isinstance(node, dict) and node:  # drop a key
            node.pop(pick(rng, list(node)))
        elif op == 3 and isinstance(node, list) and node:  # grow a list by repeating elements (super-linear cost)
            n = rng.choice([2, 8, 24, 30, 64, MAX_ITEMS])
            node[:] = (node * (n // len(node) + 1))[: min(n, MAX_ITEMS)]
        elif op == 4 and isinstance(node, str):  # grow a string
            node2 = (node or "a") * rng.choice([2, 10, 40, 200])
            v = _set(v, path, node2[:MAX_TEXT] + pick(rng, ["", "!", "b", "\\"]))
        elif op == 5 and isinstance(node, (int, float)) and not isinstance(node, bool):
            v = _set(v, path, pick(rng, INTERESTING_NUMBERS) if rng.random() < 0.7 else -node)
        elif op == 6 and donors:  # splice a subtree from another seed
            v = _set(v, path, _copy(pick(rng, _subtrees(pick(rng, donors)))))
        elif op == 7 and isinstance(node, dict):  # add a key
            node[pick(rng, AWKWARD_KEYS)] = interesting_value(rng)
        elif op == 8 and isinstance(node, list) and node:  # drop / swap elements
            if rng.random() < 0.5:
                node.pop(rng.randrange(len(node)))
            else:
                rng.shuffle(node)
        elif op == 9:  # wrap
            v = _set(v, path, [node] if rng.random() < 0.5 else {pick(rng, AWKWARD_KEYS): node})
        elif op == 10 and isinstance(node, dict):  # insert a stress filter where rules live
            node.update(_copy(pick(rng, STRESS_FILTERS)))
        elif op == 11 and isinstance(node, (list, dict)):  # change the kind
            v = _set(v, path, list(node.values()) if isinstance(node, dict) else "text")
    return v


def _subtrees(v: Any) -> list[Any]:
    return [_get(v, p) for p in _paths(v)]


def mutate_text(rng: random.Random, text: str, tokens: Sequence[str]) -> str:
    """Line- and token-level edits of text: insert a dialect token, duplicate or drop a line, flip a character."""
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(6)
        if not text:
            text = pick(rng, tokens)
            continue
        i = rng.randrange(len(text) + 1)
        if op == 0:
            text = text[:i] + pick(rng, tokens) + text[i:]
        elif op == 1:
            lines = text.split("\n")
            j = rng.randrange(len(lines))
            lines.insert(j, lines[j])
            text = "\n".join(lines)
        elif op == 2:
            lines = text.split("\n")
            lines.pop(rng.randrange(len(lines)))
            text = "\n".join(lines)
        elif op == 3:
            j = min(len(text), i + rng.randrange(1, 12))
            text = text[:i] + text[j:]
        elif op == 4:
            text = text[:i] + chr(pick(rng, [0, 9, 10, 13, 34, 39, 92, 0x85, 0xA0, 0x2028, 0xFEFF])) + text[i:]
        else:
            words = re.findall(r"\w+|[^\w\s]", text)
            if words:
                text = text[:i] + pick(rng, words) + text[i:]
    return text[: MAX_TEXT * 8]


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    """Byte-level edits of an encoded document: flips, invalid UTF-8, truncation, BOM."""
    b = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(5)
        i = rng.randrange(len(b) + 1)
        if op == 0 and b:
            b[min(i, len(b) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:
            b[i:i] = pick(rng, [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\x00", b"\\u0000", b"\\ud800"])
        elif op == 2:
            del b[i:]
        elif op == 3:
            b[0:0] = b"\xef\xbb\xbf"
        else:
            b[i:i] = pick(rng, [b"1e400", b"-0", b"1" * 40, b"[]", b"{}", b'"\\"', b",", b"NaN"])
    return bytes(b)


def yaml_dump(rng: random.Random, doc: Any) -> str:
    """A tree written back as YAML, in one of the styles people write (block, flow, JSON)."""
    style = rng.randrange(3)
    try:
        if style == 0:
            return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
        if style == 1:
            return yaml.safe_dump(doc, sort_keys=False, default_flow_style=True, width=rng.choice([20, 80, 10**6]))
        return json.dumps(doc, ensure_ascii=rng.random() < 0.5)
    except (ValueError, TypeError, yaml.YAMLError):
        return json.dumps(doc, default=str)


Mutator = Callable[[random.Random], Any]
