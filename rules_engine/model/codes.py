"""The diagnostic code table: every code and all of its wording lives here.

Codes are stable: a code is never reused or renumbered.  Ranges:

  E1xx  syntax (files, YAML, the rule language, expressions, CEL, JSON input)
  E2xx  schema (the structure of YAML rule files)
  E3xx  semantics (names, regular expressions, EventBridge pattern validity, types)
  E4xx  compile
  E5xx  evaluation (event decoding, transforms at run time)
  E6xx  delivery
  E7xx  authoring tools (convert, fmt, test, lint, diff)
  Wxxx  warnings

A call site never writes wording: it picks a :class:`Code` and fills its
template, ``codes.UNKNOWN_TARGET.at(span, name="slack-ops")``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rules_engine.model.errors import Diagnostic
from rules_engine.model.source import Span


@dataclass(frozen=True, slots=True)
class Code:
    """A stable diagnostic code, its severity, its one-line title and message template."""

    code: str
    title: str
    template: str

    @property
    def severity(self) -> str:
        return "warning" if self.code.startswith("W") else "error"

    def format(self, **args: Any) -> str:
        return self.template.format(**args)

    def at(self, span: Span | None, notes: tuple[str, ...] | list[str] = (), **args: Any) -> Diagnostic:
        return Diagnostic(self.code, self.format(**args), span, self.severity, tuple(notes))


TABLE: dict[str, Code] = {}


def _c(code: str, title: str, template: str) -> Code:
    if code in TABLE:
        raise RuntimeError(f"diagnostic code {code} defined twice")
    c = Code(code, title, template)
    TABLE[code] = c
    return c


# --- E1xx: syntax ----------------------------------------------------------------
NOT_UTF8 = _c("E100", "file is not UTF-8", "file is not valid UTF-8 text: {detail}")
EMPTY_FILE = _c("E101", "empty rule file", "rule file is empty: it defines no targets and no rules")
YAML_SYNTAX = _c("E102", "YAML syntax error", "YAML syntax error: {detail}")
YAML_ALIAS_LIMIT = _c(
    "E103",
    "YAML aliases expand too far",
    "YAML aliases expand to more than {limit} nodes (a 'billion laughs' document?)",
)
FILE_TOO_LARGE = _c("E104", "file too large", "file is {size} bytes, larger than the limit of {limit} bytes")
TOO_DEEP = _c("E105", "nesting too deep", "{what} is nested deeper than {limit} levels")
DSL_UNEXPECTED_TOKEN = _c("E106", "unexpected token", "unexpected {found}; expected {expected}")
DSL_UNEXPECTED_CHAR = _c("E107", "unexpected character", "unexpected character {char!r}")
DSL_UNTERMINATED_STRING = _c("E108", "unterminated string", "string is not closed before the end of the line")
DSL_UNEXPECTED_EOF = _c("E109", "unexpected end of input", "unexpected end of {what}; expected {expected}")
YAML_DUPLICATE_KEY = _c("E110", "duplicate YAML key", "key {key!r} appears twice in this mapping")
YAML_NOT_MAPPING = _c(
    "E111", "rule file is not a mapping", "a rule file must be a mapping with 'targets' and 'rules', not {found}"
)
CEL_SYNTAX = _c("E112", "CEL syntax error", "CEL syntax error: {detail}")
JSON_SYNTAX = _c("E113", "invalid JSON", "invalid JSON: {detail}")
BAD_ESCAPE = _c("E114", "invalid escape", "invalid escape sequence {seq!r} in string")
YAML_UNSUPPORTED_TAG = _c("E115", "YAML tag not allowed", "YAML tag {tag!r} is not allowed: only plain YAML values are read")
UNKNOWN_FORMAT = _c("E116", "unknown file format", "cannot tell the format of {name!r}; use .yaml, .yml or .rules")
FILE_UNREADABLE = _c("E117", "file cannot be read", "cannot read {path!r}: {detail}")
NO_RULE_FILES = _c("E118", "no rule files", "no rule files (*.yaml, *.yml, *.rules) found under {path!r}")
NON_STRING_KEY = _c("E119", "non-string key", "mapping keys must be strings, not {found}")
# E120..E139: the rule language (syntax/dsl.py, syntax/lower_dsl.py).
DSL_UNTERMINATED_NAME = _c(
    "E120", "unterminated quoted name", "`quoted` name is not closed before the end of the line"
)
DSL_DUPLICATE_NAME = _c("E121", "duplicate name", "{what} {name!r} is given more than once")
DSL_DUPLICATE_STATEMENT = _c("E122", "duplicate statement", "`{stmt}` is given more than once in {where}")
DSL_BAD_NUMBER = _c("E123", "invalid number", "number {text} {detail}")
DSL_NOT_INTEGER = _c("E124", "not a whole number", "{what} must be a whole number, not {text}")
DSL_EMPTY_PATH = _c("E125", "path names no field", "{what} needs a field path; `$` alone is the whole event")
DSL_BAD_CIDR_ARG = _c("E126", "invalid cidr() argument", 'cidr() takes one string literal, like cidr("10.0.0.0/8")')
DSL_BAD_TEMPLATE = _c("E127", "invalid template string", "template string: {detail}")
DSL_UNKNOWN_ENVELOPE = _c(
    "E128", "unknown envelope format", "unknown envelope format {name!r}; the supported format is 'cloudevents'"
)
DSL_BAD_ENVELOPE_ATTR = _c("E129", "invalid CloudEvents attribute", "CloudEvents attribute {name!r}: {detail}")
DSL_BAD_INPUT_TRANSFORMER = _c("E130", "invalid input transformer", "input transformer: {detail}")
DSL_STEP_AFTER_ENVELOPE = _c(
    "E131",
    "transform step after envelope",
    "`{stmt}` comes after `envelope`: the envelope wraps the finished payload, so it must come last",
)
DSL_TOO_LONG = _c("E132", "input too long", "{what} is {size} characters long, more than the limit of {limit}")
CEL_CALL_ARG = _c(
    "E133", "invalid cel() argument",
    "cel() takes one string literal holding a CEL expression, like cel(\"data.total * 2\")",
)
CESQL_SYNTAX = _c("E134", "CESQL syntax error", "CESQL syntax error: {detail}")
# E140..E149: YAML values.
YAML_NOT_JSON_NUMBER = _c("E140", "number JSON cannot hold", "{text} is {detail}")

# E150..E159: rule sets (which files are loaded together).
SEVERAL_RULE_SETS = _c(
    "E150", "several rule sets", "{path!r} holds {count} independent rule sets; this command works on one"
)

# --- E2xx: schema ------------------------------------------------------------------
UNKNOWN_KEY = _c("E201", "unknown key", "unknown key {key!r} in {where}")
WRONG_TYPE = _c("E202", "wrong type", "{where} must be {expected}, not {found}")
MISSING_KEY = _c("E203", "missing required key", "{where} is missing required key {key!r}")
INVALID_VALUE = _c("E204", "invalid value", "{where}: {detail}")
SCHEMA_OTHER = _c("E205", "schema violation", "{where}: {detail}")
NO_FILTER_VALUE = _c("E206", "empty filter", "{where} is empty")

# --- E3xx: semantics -------------------------------------------------------------------
DUPLICATE_RULE = _c("E301", "duplicate rule name", "rule {name!r} is defined more than once")
UNKNOWN_TARGET = _c("E302", "unknown target", "unknown target {name!r}")
DUPLICATE_TARGET = _c("E303", "duplicate target name", "target {name!r} is defined more than once")
BAD_REGEX = _c("E304", "invalid regular expression", "invalid regular expression {pattern!r}: {detail}")
TYPE_NEVER_MATCHES = _c(
    "E305", "comparison can never match", "comparison can never be true: {left} {op} {right}"
)
UNKNOWN_FUNCTION = _c("E306", "unknown function", "unknown function {name!r}")
WRONG_ARITY = _c("E307", "wrong number of arguments", "{name}() takes {expected}, got {got}")
CEL_CHECK = _c("E308", "CEL check error", "CEL: {detail}")
# E340..E349: CEL load-time checks (cel/).
CEL_UNKNOWN_FUNCTION = _c("E340", "unknown CEL function", "CEL: unknown function {name!r}")
CEL_MACRO_ARITY = _c("E341", "wrong number of macro arguments", "CEL: {name}() takes {expected}, got {got}")
CEL_MACRO_VARIABLE = _c(
    "E342", "macro variable is not a name", "CEL: the first argument of {name}() must be a variable name"
)
CEL_UNSUPPORTED = _c("E343", "unsupported CEL construct", "CEL: {what} is not supported")
BAD_CIDR = _c("E309", "invalid CIDR", "invalid CIDR block {value!r}: {detail}")
# E310..E329: EventBridge pattern validity.  The message is AWS's own reason text
# so that users can search for it; the code tells which class of mistake it is.
# The {reason} of E311..E317 is event-ruler's own wording (see rules_engine/patterns/lower.py), E318 is ours.
_PATTERN_REASON = "Event pattern is not valid. Reason: {reason}"
PATTERN_STRUCTURE = _c("E311", "invalid event pattern structure", _PATTERN_REASON)
PATTERN_UNKNOWN_MATCH = _c("E312", "unknown match type in event pattern", _PATTERN_REASON)
PATTERN_OPERAND = _c("E313", "invalid operand in event pattern", _PATTERN_REASON)
PATTERN_NUMERIC = _c("E314", "invalid numeric match in event pattern", _PATTERN_REASON)
PATTERN_WILDCARD = _c("E315", "invalid wildcard in event pattern", _PATTERN_REASON)
PATTERN_CIDR = _c("E316", "invalid CIDR in event pattern", _PATTERN_REASON)
PATTERN_OR = _c("E317", "invalid $or in event pattern", _PATTERN_REASON)
PATTERN_TOO_LARGE = _c("E318", "event pattern expands too far", _PATTERN_REASON)
UNKNOWN_TARGET_TYPE = _c("E330", "unknown target type", "unknown target type {type!r}")
UNKNOWN_VARIABLE = _c("E332", "unknown name", "unknown name {name!r}")
WRONG_ARG_TYPE = _c("E333", "wrong argument type", "{name}() argument {index} must be {expected}, not {found}")
# E350..E369: expression language checks (expressions/check.py).
BAD_WILDCARD = _c("E350", "invalid wildcard pattern", "invalid wildcard pattern {pattern!r}: {detail}")
ARITH_NEVER_VALUE = _c(
    "E351", "operation never has a value", "{left} {op} {right} never has a value: {detail}"
)
DUPLICATE_OBJECT_KEY = _c("E352", "duplicate object key", "key {key!r} appears more than once in this object")
REGEX_NOT_LITERAL = _c(
    "E353",
    "regular expression must be a literal",
    "the pattern of `matches` must be a string literal, so the rule author, not the event, chooses it",
)
REGEX_NOT_RE2 = _c(
    "E354",
    "regular expression needs backtracking",
    "regular expression {pattern!r} uses a construct RE2 cannot run: {detail}",
)
# E380..E389: CESQL load-time checks (cesql/check.py).
CESQL_UNKNOWN_FUNCTION = _c("E380", "unknown CESQL function", "CESQL: no function {name}() taking {count}")
CESQL_NOT_BOOLEAN = _c(
    "E381", "CESQL filter is not Boolean", "CESQL: a filter must be Boolean, but this expression is always {type}"
)
CESQL_ALWAYS_FAILS = _c(
    "E382", "CESQL expression always fails", "CESQL: this part gives a {kind} on every event that evaluates it: {detail}"
)
CESQL_DATA = _c(
    "E383", "CESQL cannot address the data", "CESQL: {name!r} is the event's payload, not a context attribute"
)
# E370..E379: transform checks (transform.py): the input transformer, keep paths.
INPUT_PATH_INVALID = _c(
    "E370", "invalid input path", "input path {name!r}: {path!r} is not a JSON path EventBridge supports: {detail}"
)
INPUT_VARIABLE_NAME = _c("E371", "invalid input variable name", "input variable {name!r}: {detail}")
TOO_MANY_INPUT_VARIABLES = _c(
    "E372", "too many input variables",
    "the input paths map defines {count} variables; EventBridge allows at most {limit}"
)
INPUT_TEMPLATE_INVALID = _c("E373", "invalid input template", "input template: {detail}")
KEEP_ARRAY_INDEX = _c("E374", "keep path indexes an array", "keep {path}: {detail}")

# --- E4xx: compile (none yet: every checked rule set compiles) ---------------------------

# --- E5xx: evaluation --------------------------------------------------------------------
EVENT_JSON = _c("E501", "malformed event", "event is not valid JSON: {detail}")
EVENT_NOT_OBJECT = _c("E502", "event is not an object", "an event must be a JSON object, not {found}")
EVENT_TOO_DEEP = _c("E503", "event nested too deep", "event is nested deeper than {limit} levels")
EVENT_TOO_LARGE = _c("E504", "event too large", "event is {size} bytes, larger than the limit of {limit} bytes")
TRANSFORM_FAILED = _c("E510", "transform failed", "transform failed at {path}: {detail}")
# E511..E519: transform errors at run time (transform.py); what each on_error policy does with
# them is in docs/transforms.md.
TRANSFORM_NO_VALUE = _c("E511", "transform value missing", "no value for {path}: {detail}")
RENAME_SOURCE_MISSING = _c("E512", "rename source missing", "cannot rename {path} to {dest}: {path} is missing")
TRANSFORM_PATH_CONFLICT = _c("E513", "transform path conflict", "cannot write {path}: {detail}")
CEL_VALUE_FAILED = _c("E514", "CEL value failed", "CEL value for {path} failed: {detail}")
BAD_ENVELOPE_VALUE = _c("E515", "invalid CloudEvents attribute value", "CloudEvents attribute {name!r}: {detail}")
INPUT_VALUE_NOT_TEXT = _c(
    "E516",
    "object or array inside a JSON template string",
    "{path}: <{name}> is {kind} inside a string of a JSON template; EventBridge would paste its JSON text "
    "and deliver something that is not JSON",
)
# E520..E529: CEL at evaluation time (explanations of a CEL filter that did not hold).
CEL_FALSE = _c("E520", "CEL filter is false", "CEL expression evaluated to false")
CEL_EVAL_ERROR = _c("E521", "CEL evaluation error", "CEL error: {detail}")
CEL_NOT_BOOL = _c("E522", "CEL filter is not a bool", "CEL expression evaluated to {kind} {value}, not a bool")

# --- E6xx: delivery ---------------------------------------------------------------------
# E600..E609: target options, checked at load time by the adapter that owns the type
# (both rule-file formats; the adapter's JSON Schema, rules_engine/check/target_types.py).
TARGET_UNKNOWN_OPTION = _c("E601", "unknown target option", "unknown option {key!r} for target type {type!r}")
TARGET_OPTION_TYPE = _c("E602", "wrong type of target option", "{where} must be {expected}, not {found}")
TARGET_MISSING_OPTION = _c("E603", "missing target option", "target type {type!r} needs the option {key!r}")
TARGET_OPTION_VALUE = _c("E604", "invalid target option", "{where}: {detail}")
# E610..E619: delivery at run time (rendered without a position: the event is the input).
DELIVERY_REJECTED = _c("E610", "delivery rejected", "target {target!r} refused the message: {detail}")
DELIVERY_EXHAUSTED = _c(
    "E611", "delivery retries exhausted", "target {target!r}: gave up after {attempts} attempt(s) ({condition}): {detail}"
)
DEAD_LETTER_FAILED = _c(
    "E612", "dead letter failed", "dead letter of rule {rule!r} for target {target!r} to {dead_letter!r} failed: {detail}"
)
NO_DEAD_LETTER = _c(
    "E613", "no dead-letter target", "target {target!r} has no dead_letter target; the message of rule {rule!r} is lost: {detail}"
)
ADAPTER_UNAVAILABLE = _c("E614", "target cannot start", "target {target!r} ({type}) cannot start: {detail}")
# E650..E699: the sidecar (serve/): E650..E659 its config file, E660..E679 HTTP ingest refusals
# (each answered with the HTTP status in serve/errors.py), E680..E699 broker sources.
SIDECAR_UNKNOWN_OPTION = _c("E650", "unknown sidecar option", "unknown option {name!r} in {where}")
SIDECAR_WRONG_TYPE = _c("E651", "wrong type in sidecar config", "{where} must be {expected}, not {found}")
SIDECAR_BAD_VALUE = _c("E652", "invalid value in sidecar config", "{where}: {detail}")
SIDECAR_UNREADABLE = _c("E653", "cannot read sidecar config", "cannot read sidecar config {path!r}: {detail}")
SIDECAR_SECRET = _c("E654", "secret not available", "{where}: {detail}")
CE_MISSING_ATTRIBUTE = _c("E660", "missing CloudEvents attribute", "missing required CloudEvents attribute {name!r}{where}")
CE_PERCENT_ENCODING = _c("E661", "invalid percent-encoding", "header {header!r} is not valid percent-encoded UTF-8: {detail}")
CE_SPECVERSION = _c("E662", "unsupported CloudEvents version", "unsupported CloudEvents specversion {version!r}; this sidecar reads 1.0")
CE_BAD_JSON = _c("E663", "request body is not valid JSON", "{what} is not valid JSON: {detail}")
CE_NOT_OBJECT = _c("E664", "wrong JSON shape", "{what} must be {expected}, not {found}")
BODY_TOO_LARGE = _c("E665", "request body too large", "request body is larger than the limit of {limit} bytes")
BATCH_TOO_LARGE = _c("E666", "batch too large", "batch holds {count} events, more than the limit of {limit}")
CE_TOO_DEEP = _c("E667", "event nested too deep", "{what} is nested deeper than {limit} levels")
UNSUPPORTED_MEDIA_TYPE = _c("E668", "unsupported media type", "cannot read Content-Type {content_type!r}: {detail}")
UNAUTHORIZED = _c("E669", "not authenticated", "{detail}")
FORBIDDEN_EVENT = _c("E670", "event not allowed for this publisher", "publisher {publisher!r} may not send {attribute} {value!r}")
QUEUE_FULL = _c("E671", "ingest queue full", "the ingest queue is full ({size} jobs); retry after {retry_after} s")
NOT_DELIVERED = _c("E672", "decisions not delivered", "{failed} decision(s) could neither be delivered nor dead-lettered; retry the request")
ACK_TIMEOUT = _c("E673", "delivery not confirmed in time", "delivery was not confirmed within {timeout} s; the event may still be delivered")
CE_BAD_ATTRIBUTE = _c("E674", "invalid CloudEvents attribute", "CloudEvents attribute {name!r}: {detail}")
RELOAD_REFUSED = _c("E675", "reload refused", "the new rule set has errors; version {version} keeps serving")
SHUTTING_DOWN = _c("E676", "shutting down", "the sidecar is shutting down and accepts no new events")
HEADERS_TOO_LARGE = _c("E677", "request headers too large", "request headers are larger than the limit of {limit} bytes")
NOT_PERSISTED = _c("E678", "event not persisted", "could not store the events in stream {stream!r}: {detail}; retry the request")
DEDUP_UNAVAILABLE = _c("E679", "deduplication store unavailable", "cannot check for duplicates in {store}: {detail}; retry the request")
POISON_EVENT = _c("E680", "undecodable broker message", "source {source!r}: message is not an event ({detail}); sent to the dead-letter target")
DELIVERY_LIMIT = _c("E681", "delivery limit reached", "source {source!r}: delivery failed {count} times; the event goes to the dead-letter target")
POISON_LOST = _c("E682", "poison message dropped", "source {source!r}: no dead-letter target took the message ({code}: {detail}); it is terminated")

# --- E7xx: authoring tools (convert, fmt, test, lint, diff; rules_engine/author) ---------------
INEXPRESSIBLE = _c("E701", "cannot be written in the other format", "{what} cannot be written as {fmt}: {detail}")
MEANING_CHANGED = _c(
    "E702", "output would change the rules",
    "{tool} output does not load back to the same rules ({detail}); nothing was written",
)
TEST_FILE_INVALID = _c("E710", "invalid rule test file", "invalid rule test: {detail}")
TEST_UNKNOWN_NAME = _c("E711", "rule test names an unknown rule or target", "unknown {kind} {name!r} in test {test!r}")
TEST_EVENT_MISSING = _c("E712", "rule test event not found", "event of test {test!r} not found: {detail}")

# --- Warnings -----------------------------------------------------------------------------
FILE_SKIPPED = _c("W101", "file skipped", "skipped {path!r}: {detail}")
UNUSED_TARGET = _c("W301", "unused target", "target {name!r} is not used by any rule")
RULE_WITHOUT_FILTER = _c("W302", "rule matches every event", "rule {name!r} has no filter and matches every event")
RULE_WITHOUT_TARGETS = _c("W303", "rule routes nowhere", "rule {name!r} has no targets")
# W4xx: findings of `rules-engine lint` (rules_engine/author/lint.py); each example event is checked.
LINT_SHADOWED = _c(
    "W401", "shadowed rule",
    "rule {name!r} never fires: rule {by!r} runs first, stops, and matches every event {name!r} matches",
)
LINT_UNSATISFIABLE = _c("W402", "unsatisfiable filter", "rule {name!r} can never match: {detail}")
LINT_OVERLAP = _c("W403", "overlapping rules", "rules {a!r} and {b!r} match some events both, and {why}")
LINT_REDUNDANT = _c("W404", "redundant condition", "rule {name!r}: {cond} is implied by {by}")
LINT_CORRELATED = _c(
    "W405", "correlated rules",
    "rules {a!r} and {b!r} overlap partially and route to different targets; {a!r} stops first, so the order decides",
)
LINT_GENERALISATION = _c(
    "W406", "exception of a more general rule",
    "rule {a!r} is an exception of the more general rule {b!r}: {a!r} stops first and routes elsewhere",
)
# Findings that inform rather than warn: SARIF level "note", and `lint --strict` does not fail on them.
INFORMATIONAL = frozenset({LINT_GENERALISATION.code})
UNREACHABLE_RULE = _c(
    "W304", "rule can never run", "rule {name!r} can never run: rule {by!r} matches every event and stops"
)
KNATIVE_FILTER_IGNORED = _c(
    "W305", "legacy filter ignored", "`filter` is ignored: `filters` is given too, and takes precedence (as in Knative)"
)
DOTTED_WORD_IS_A_FIELD = _c(
    "W306", "unquoted dotted word is a field path", "{text} is read as a field path, not as the text {text!r}"
)
