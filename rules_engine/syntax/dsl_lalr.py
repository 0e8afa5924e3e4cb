"""A tight LALR loop over the one Lark parser's own tables and lexers: text -> parse tree, or None.

Position in the pipeline::

    rule text ──dsl: parse (**dsl_lalr** first, Lark for what fails)──▶ parse tree ──lower──▶ IR

Lark's LALR parser, driven by Lark, spends most of its time between the steps that matter: a
generator per token, three method calls to match one regular expression, a line counter object,
a ``feed_token`` call that sets up its locals again for every token.  :func:`fast_parse` runs the
very same steps in one loop: for each token, the contextual lexer of the parser's current state
(the same compiled expressions, the same keyword callbacks, the same ignored terminals and line
counting), then the same shift and reduce actions from the same table, calling the same
reduction callbacks (which build :class:`~rules_engine.syntax.dsl_tree.Node` trees).  So when
Lark parses a text, this loop builds the equal tree, tokens and positions included; when Lark
would raise (an unexpected character or token), this loop returns None and the caller parses
the text with Lark, whose error is the one reported (``dsl.py``).  Nothing of Lark is changed.

``tests/test_dsl_lalr.py`` compares the two on every rule file and expression of the test
corpora and on random text.

One shortcut Lark does not take, with the same result: a run of *unit* reductions (``?rule: other``
links of the precedence chain, whose callback hands its one child up unchanged) pops one state and
pushes one, so it depends only on the state below, the state on top and the lookahead; the state it
ends in is remembered per (below, top, lookahead) instead of being found link by link again.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lark import Token
from lark.lexer import PatternStr, UnlessCallback
from lark.parsers.lalr_analysis import Shift

from rules_engine.syntax.dsl_tree import Node, lark_parser

__all__ = ["fast_parse"]


@dataclass(frozen=True, slots=True)
class _StateLexer:
    """The contextual lexer of one parser state: Lark's compiled expressions and callbacks for it."""

    matchers: tuple[Callable[..., Any], ...]  # bound ``re.Pattern.match`` of each alternation, in order
    keywords: dict[str, dict[str, str]]  # terminal -> {keyword text: keyword terminal} (Lark's UnlessCallback)
    callbacks: dict[str, Any]  # any other terminal callback of Lark's (none in this grammar)
    newline_types: frozenset[str]
    ignore_types: frozenset[str]


_Reduce = tuple[int, str, Callable[[list[Any]], Any], bool]  # rule length, rule name, callback, unit
_Action = tuple[bool, Any]  # (True, next state) to shift, (False, _Reduce) to reduce


@dataclass(frozen=True, slots=True)
class _Tables:
    """Lark's parse table with each reduce's rule replaced by what the loop needs of it."""

    actions: dict[Any, dict[str, _Action]]  # state -> lookahead terminal -> action
    gotos: dict[Any, dict[str, Any]]  # state -> rule name -> next state
    start_states: dict[str, Any]
    end_states: dict[str, Any]
    lexers: dict[Any, _StateLexer]


def _keywords(callback: Any) -> dict[str, str] | None:
    """Lark's keyword callback as a dict, when it is one (a NAME whose text is a plain keyword string)."""
    if not isinstance(callback, UnlessCallback):
        return None
    terminals = callback.scanner.terminals
    if not all(isinstance(t.pattern, PatternStr) and not t.pattern.flags for t in terminals):
        return None
    return {t.pattern.value: str(t.name) for t in terminals}


def _state_lexer(basic: Any) -> _StateLexer:
    scanner = basic.scanner  # builds the expressions and the keyword callbacks
    assert not set(basic.callback) & set(basic.ignore_types)  # an ignored token is never re-typed
    keywords, other = {}, {}
    for terminal, cb in basic.callback.items():
        kw = _keywords(cb)
        if kw is None:
            other[terminal] = cb
        else:
            keywords[terminal] = kw
    return _StateLexer(tuple(m.match for m in scanner._mres), keywords, other,
                       frozenset(basic.newline_types), frozenset(basic.ignore_types))


@functools.cache
def _tables() -> _Tables:
    lark = lark_parser()
    frontend = lark.parser
    table = frontend.parser.parser.parse_table
    callbacks = frontend.parser.parser.callbacks
    contextual = frontend.lexer.lexer  # the ContextualLexer behind the post-lexer (which changes no token)
    assert not any(isinstance(k, str) for k in callbacks)  # no per-terminal callbacks in the parser
    lexers: dict[Any, _StateLexer] = {}
    made: dict[int, _StateLexer] = {}
    for state, basic in contextual.lexers.items():
        if id(basic) not in made:
            made[id(basic)] = _state_lexer(basic)
        lexers[state] = made[id(basic)]
    reduces: dict[Any, _Reduce] = {}
    for rule, cb in callbacks.items():
        unit = isinstance(cb, operator.itemgetter) and len(rule.expansion) == 1
        # A run of unit reductions is never the last step (that reduces a start rule, which builds a node).
        assert not (unit and rule.origin.name in table.start_states)
        reduces[rule] = (len(rule.expansion), str(rule.origin.name), cb, unit)
    actions: dict[Any, dict[str, _Action]] = {}
    gotos: dict[Any, dict[str, Any]] = {}
    for state, row in table.states.items():
        actions[state] = {}
        gotos[state] = {}
        for name, (kind, arg) in row.items():
            # Lark's names may be its Token (a str whose == is Python code); plain str keys compare in C.
            symbol = str(name)
            if kind is Shift:
                actions[state][symbol] = (True, arg)
                gotos[state][symbol] = arg  # for a rule name: the state after reducing to it
            else:
                actions[state][symbol] = (False, reduces[arg])
    return _Tables(actions, gotos, table.start_states, table.end_states, lexers)


_new_str = str.__new__


def fast_parse(text: str, start: str) -> Node | None:
    """The tree Lark's parser builds for ``text`` from rule ``start``, or None where Lark would raise."""
    t = _tables()
    actions = t.actions
    gotos = t.gotos
    lexers = t.lexers
    end_state = t.end_states[start]
    state_stack: list[Any] = [t.start_states[start]]
    value_stack: list[Any] = []
    units: dict[tuple[Any, Any, str], Any] = _unit_runs
    pos, line, line_start, n = 0, 1, 0, len(text)
    last: Token | None = None
    while True:
        # --- the next token, lexed in the current state's context (Lark's BasicLexer.next_token)
        is_end = pos >= n
        tok: Token
        if not is_end:
            lx = lexers[state_stack[-1]]
            while True:
                m = None
                for match in lx.matchers:
                    m = match(text, pos)
                    if m is not None:
                        break
                if m is None:
                    return None  # an unexpected character
                type_ = m.lastgroup
                value = m.group(0)
                if type_ in lx.ignore_types:
                    if type_ in lx.newline_types:
                        nl = value.count("\n")
                        if nl:
                            line += nl
                            line_start = pos + value.rindex("\n") + 1
                    pos += len(value)
                    if pos >= n:
                        is_end = True
                        break
                    continue
                kw = lx.keywords.get(type_)
                if kw is not None:
                    type_ = kw.get(value, type_)
                tok = _new_str(Token, value)
                tok.type = type_
                tok.start_pos = pos
                tok.value = value
                tok.line = line
                tok.column = pos - line_start + 1
                if type_ in lx.newline_types:
                    nl = value.count("\n")
                    if nl:
                        line += nl
                        line_start = pos + value.rindex("\n") + 1
                pos += len(value)
                tok.end_line = line
                tok.end_column = pos - line_start + 1
                tok.end_pos = pos
                if lx.callbacks:
                    cb = lx.callbacks.get(type_)
                    if cb is not None:
                        tok = cb(tok)
                last = tok
                break
        if is_end:
            tok = Token.new_borrow_pos("$END", "", last) if last is not None else Token("$END", "", 0, 1, 1)
        ttype = tok.type
        # --- the parser's actions for it (Lark's ParserState.feed_token)
        while True:
            top = state_stack[-1]
            action = actions[top].get(ttype)
            if action is None:
                return None  # an unexpected token
            shift, arg = action
            if shift:
                if is_end:
                    return None
                state_stack.append(arg)
                value_stack.append(tok)
                break
            size, origin, callback, unit = arg
            if unit:
                below = state_stack[-2]
                key = (below, top, ttype)
                final = units.get(key)
                if final is None:
                    final = _run_units(actions, gotos, below, top, ttype)
                    units[key] = final
                state_stack[-1] = final
                continue
            if size:
                s = value_stack[-size:]
                del state_stack[-size:]
                del value_stack[-size:]
            else:
                s = []
            value = callback(s)
            new_state = gotos[state_stack[-1]][origin]
            state_stack.append(new_state)
            value_stack.append(value)
            if is_end and new_state == end_state:
                return value_stack[-1]  # type: ignore[no-any-return]


_unit_runs: dict[tuple[Any, Any, str], Any] = {}
"""(state below, state on top, lookahead) -> the state a run of unit reductions ends in (see the module doc)."""


def _run_units(actions: dict[Any, dict[str, _Action]], gotos: dict[Any, dict[str, Any]],
               below: Any, top: Any, ttype: str) -> Any:
    """Follow unit reductions from ``top`` (over ``below``) while the lookahead ``ttype`` asks for one."""
    while True:
        action = actions[top].get(ttype)
        if action is None:
            return top  # Lark raises here; so does the caller, finding no action either
        shift, arg = action
        if shift or not arg[3]:
            return top
        top = gotos[below][arg[1]]
