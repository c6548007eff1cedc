"""Label and field selectors with the grammar and matching rules of apimachinery."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

_LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_KEY_BODY = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    f"validation is '{_LABEL_KEY_FMT}')"
)
QUALIFIED_NAME_MSG = "name part " + _LABEL_KEY_BODY
LABEL_KEY_MSG = (
    "a valid label key "
    + _LABEL_KEY_BODY
    + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
)
DNS_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


class SelectorError(ValueError):
    """An unparsable selector; the server answers 400 BadRequest with this message."""


def _go_quote(value: str) -> str:
    """Go's %q of a string (strconv.Quote) for the characters selectors can hold."""
    out = ['"']
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def qualified_name_errors(key: str) -> list[str]:
    """Problems with a label/annotation key (``prefix/name``): apimachinery's ``IsLabelKey``."""
    errs: list[str] = []
    parts = key.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            if len(prefix) > 253:
                errs.append("prefix part must be no more than 253 bytes")
            if not _DNS_SUBDOMAIN.match(prefix):
                errs.append("prefix part " + DNS_SUBDOMAIN_MSG)
    else:
        return [LABEL_KEY_MSG]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 bytes")
    if not _QUALIFIED_NAME.match(name):
        errs.append(QUALIFIED_NAME_MSG)
    return errs


def label_value_errors(value: str) -> list[str]:
    errs: list[str] = []
    if len(value) > 63:
        errs.append("must be no more than 63 bytes")
    if not _LABEL_VALUE.match(value):
        errs.append(LABEL_VALUE_MSG)
    return errs


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        has = self.key in labels
        val = labels.get(self.key)
        if self.op in ("=", "in"):
            return has and val in self.values
        if self.op in ("!=", "notin"):
            return not has or val not in self.values
        if self.op == "exists":
            return has
        if self.op == "!":
            return not has
        if self.op in ("gt", "lt"):
            if not has or val is None:
                return False
            try:
                lhs = int(val)
            except ValueError:
                return False
            rhs = int(self.values[0])
            return lhs > rhs if self.op == "gt" else lhs < rhs
        return False


class LabelSelector:
    def __init__(self, requirements: list[Requirement]) -> None:
        self.requirements = requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        lab = labels or {}
        return all(r.matches(lab) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements


# ---------------------------------------------------------------------------- label parser
# A port of k8s.io/apimachinery/pkg/labels/selector.go (Lexer, Parser, NewRequirement), so
# invalid selectors get the same messages as from kube-apiserver.

_T_ERROR, _T_END, _T_CLOSE, _T_COMMA, _T_NOT, _T_DEQ, _T_EQ, _T_GT = range(8)
_T_ID, _T_IN, _T_LT, _T_NEQ, _T_NOTIN, _T_OPEN = range(8, 14)
_STRING_TO_TOKEN = {
    ")": _T_CLOSE,
    ",": _T_COMMA,
    "!": _T_NOT,
    "==": _T_DEQ,
    "=": _T_EQ,
    ">": _T_GT,
    "in": _T_IN,
    "<": _T_LT,
    "!=": _T_NEQ,
    "notin": _T_NOTIN,
    "(": _T_OPEN,
}
_SPECIAL = set("=!(),><")
_WHITESPACE = set(" \t\r\n")
_BINARY_OPERATORS = "in, notin, =, ==, !=, gt, lt"


def _lex(text: str) -> list[tuple[int, str]]:
    items: list[tuple[int, str]] = []
    pos = 0
    n = len(text)
    while True:
        while pos < n and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= n:
            items.append((_T_END, ""))
            return items
        if text[pos] in _SPECIAL:
            buf = ""
            last: tuple[int, str] | None = None
            while pos < n and text[pos] in _SPECIAL:
                buf += text[pos]
                pos += 1
                tok = _STRING_TO_TOKEN.get(buf)
                if tok is not None:
                    last = (tok, buf)
                elif last is not None:
                    pos -= 1
                    break
            if last is None:
                items.append((_T_ERROR, f"error expected: keyword found '{buf}'"))
            else:
                items.append(last)
        else:
            start = pos
            while pos < n and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
                pos += 1
            word = text[start:pos]
            items.append((_STRING_TO_TOKEN.get(word, _T_ID), word))


def _field_error(path: str, value: str, detail: str) -> str:
    return f"{path}: Invalid value: {_go_quote(value)}: {detail}"


def _aggregate(errors: list[str]) -> str:
    seen: list[str] = []
    for e in errors:
        if e not in seen:
            seen.append(e)
    return seen[0] if len(seen) == 1 else "[" + ", ".join(seen) + "]"


def _new_requirement(key: str, op: str, values: list[str]) -> Requirement:
    errs: list[str] = []
    if op in ("gt", "lt"):
        for i, v in enumerate(values):
            # strconv.ParseInt(v, 10, 64)
            if not re.fullmatch(r"[+-]?[0-9]+", v) or not -(2**63) <= int(v) < 2**63:
                errs.append(
                    _field_error(
                        f"values[{i}]", v, "for 'Gt', 'Lt' operators, the value must be an integer"
                    )
                )
    for i, v in enumerate(values):
        verrs = label_value_errors(v)
        if verrs:
            errs.append(_field_error(f"values[{i}][{key}]", v, "; ".join(verrs)))
    if errs:
        raise SelectorError(_aggregate(errs))
    return Requirement(key, op, tuple(values))


class _LabelParser:
    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.pos = 0

    def _look(self, values: bool = True) -> tuple[int, str]:
        tok, lit = self.items[self.pos]
        if values and tok in (_T_IN, _T_NOTIN):
            tok = _T_ID
        return tok, lit

    def _take(self, values: bool = True) -> tuple[int, str]:
        tok, lit = self._look(values)
        self.pos += 1
        return tok, lit

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self._look()
            if tok in (_T_ID, _T_NOT):
                try:
                    reqs.append(self._requirement())
                except SelectorError as exc:
                    raise SelectorError(f"unable to parse requirement: {exc}") from None
                t, lit2 = self._take()
                if t == _T_END:
                    return reqs
                if t == _T_COMMA:
                    t2, l2 = self._look()
                    if t2 not in (_T_ID, _T_NOT):
                        raise SelectorError(f"found '{l2}', expected: identifier after ','")
                else:
                    raise SelectorError(f"found '{lit2}', expected: ',' or 'end of string'")
            elif tok == _T_END:
                return reqs
            else:
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def _requirement(self) -> Requirement:
        tok, lit = self._take()
        op = ""
        if tok == _T_NOT:
            op = "!"
            tok, lit = self._take()
        if tok != _T_ID:
            raise SelectorError(f"found '{lit}', expected: identifier")
        errs = qualified_name_errors(lit)
        if errs:
            raise SelectorError(_field_error("<nil>", lit, "; ".join(errs)))
        key = lit
        t, _ = self._look()
        if op == "!" or t in (_T_END, _T_COMMA):
            # "!key" ends the requirement whatever follows (the caller then checks for ",").
            return _new_requirement(key, op or "exists", [])
        tok, lit = self._take(values=False)
        ops = {
            _T_IN: "in",
            _T_EQ: "=",
            _T_DEQ: "=",
            _T_GT: "gt",
            _T_LT: "lt",
            _T_NOTIN: "notin",
            _T_NEQ: "!=",
        }
        if tok not in ops:
            raise SelectorError(f"found '{lit}', expected: {_BINARY_OPERATORS}")
        op = ops[tok]
        values = self._set_values() if op in ("in", "notin") else self._exact_value()
        return _new_requirement(key, op, sorted(set(values)))

    def _set_values(self) -> list[str]:
        tok, lit = self._take()
        if tok != _T_OPEN:
            raise SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self._look()
        if tok in (_T_ID, _T_COMMA):
            values = self._identifiers()
            if self._take()[0] != _T_CLOSE:
                raise SelectorError(f"found '{lit}', expected: ')'")
            return values
        if tok == _T_CLOSE:
            self._take()
            return [""]
        raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")

    def _identifiers(self) -> list[str]:
        values: set[str] = set()
        while True:
            tok, lit = self._take()
            if tok == _T_ID:
                values.add(lit)
                t2, l2 = self._look()
                if t2 == _T_COMMA:
                    continue
                if t2 == _T_CLOSE:
                    return sorted(values)
                raise SelectorError(f"found '{l2}', expected: ',' or ')'")
            if tok == _T_COMMA:
                if not values:
                    values.add("")
                t2, _ = self._look()
                if t2 == _T_CLOSE:
                    values.add("")
                    return sorted(values)
                if t2 == _T_COMMA:
                    values.add("")
                continue
            raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def _exact_value(self) -> list[str]:
        tok, _ = self._look()
        if tok in (_T_END, _T_COMMA):
            return [""]
        tok, lit = self._take()
        if tok == _T_ID:
            return [lit]
        raise SelectorError(f"found '{lit}', expected: identifier")


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse the ``labelSelector`` query parameter; raises SelectorError when invalid."""
    if text is None or not text.strip():
        return LabelSelector([])
    reqs = _LabelParser(text).parse()
    return LabelSelector(sorted(reqs, key=lambda r: r.key))


def selector_from_match_labels(
    match_labels: Mapping[str, str] | None, match_expressions: list[dict[str, Any]] | None = None
) -> LabelSelector:
    """A metav1.LabelSelector (matchLabels/matchExpressions) as a LabelSelector."""
    reqs = [Requirement(k, "=", (v,)) for k, v in (match_labels or {}).items()]
    for expr in match_expressions or []:
        op = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}[
            expr["operator"]
        ]
        reqs.append(Requirement(expr["key"], op, tuple(expr.get("values") or ())))
    return LabelSelector(reqs)


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    op: str  # "=" or "!="
    value: str


def _get_path(obj: Mapping[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return ""
        cur = cur.get(part)
        if cur is None:
            return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if isinstance(cur, dict):
        return ""
    return str(cur)


class FieldSelector:
    def __init__(self, requirements: list[FieldRequirement]) -> None:
        self.requirements = requirements

    def matches(self, obj: Mapping[str, Any]) -> bool:
        for r in self.requirements:
            actual = _field_value(obj, r.field)
            if (actual == r.value) != (r.op == "="):
                return False
        return True

    @property
    def empty(self) -> bool:
        return not self.requirements

    def value_of(self, field: str) -> str | None:
        """The value an equality requirement pins ``field`` to, if any."""
        for r in self.requirements:
            if r.field == field and r.op == "=":
                return r.value
        return None


def _field_value(obj: Mapping[str, Any], field: str) -> str:
    if field == "source":
        # Events: the source field selector matches source.component, else the controller.
        return _get_path(obj, "source.component") or _get_path(obj, "reportingComponent")
    if field == "status.successful":
        return _get_path(obj, "status.succeeded") or "0"
    if field == "spec.hostNetwork":
        return _get_path(obj, field) or "false"
    if field == "status.podIP":
        ips = (obj.get("status") or {}).get("podIPs") or []
        return str(ips[0].get("ip", "")) if ips else _get_path(obj, field)
    if field == "status.podIPs":
        return ""  # accepted by the conversion, never set in the fields the apiserver matches
    return _get_path(obj, field)


def _split_terms(text: str) -> list[str]:
    """fields.splitTerms: split on commas that are not escaped by a backslash."""
    terms: list[str] = []
    start = 0
    in_slash = False
    for i, ch in enumerate(text):
        if in_slash:
            in_slash = False
        elif ch == "\\":
            in_slash = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    """fields.splitTerm: the first operator occurrence splits the term (no escaping on the left)."""
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
    return None


def _unescape(value: str) -> str:
    """fields.UnescapeValue, with its errors."""
    if not any(c in value for c in "\\,="):
        return value
    out = []
    in_slash = False
    for ch in value:
        if in_slash:
            if ch in "\\,=":
                out.append(ch)
            else:
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{ch}")
            in_slash = False
            continue
        if ch == "\\":
            in_slash = True
        elif ch in ",=":
            raise SelectorError(f"invalid field selector: unescaped character in value: {ord(ch)}")
        else:
            out.append(ch)
    if in_slash:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def field_label_error(style: str, kind: str, label: str) -> str:
    """The message of a resource type's field label conversion function for an unknown label."""
    if style == "meta":  # runtime.DefaultMetaV1FieldSelectorConversion
        return (
            f"{_go_quote(label)} is not a known field selector: only "
            '"metadata.name", "metadata.namespace"'
        )
    if style == "job":
        return f"field label {_go_quote(label)} not supported for {kind}"
    return f"field label not supported: {label}"


# Labels a type's conversion function rewrites (old client spellings).
_FIELD_ALIASES = {"spec.host": "spec.nodeName"}


def parse_field_selector(
    text: str | None,
    supported: tuple[str, ...] | None,
    *,
    style: str = "core",
    kind: str = "",
) -> FieldSelector:
    """Parse ``fieldSelector`` like fields.ParseSelector, then convert each label like the type's
    field label conversion function (terms in sorted order; parse errors first)."""
    if text is None or not text:
        return FieldSelector([])
    parsed: list[tuple[str, str, str]] = []
    for part in sorted(_split_terms(text)):
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        lhs, op, rhs = split
        parsed.append((lhs, "!=" if op == "!=" else "=", _unescape(rhs)))
    reqs: list[FieldRequirement] = []
    for label, op, value in parsed:
        field = label
        if supported is not None:
            if "spec.nodeName" in supported:
                field = _FIELD_ALIASES.get(label, label)
            if field not in supported:
                raise SelectorError(field_label_error(style, kind, field))
        reqs.append(FieldRequirement(field, op, value))
    return FieldSelector(reqs)


Matcher = Callable[[Mapping[str, Any]], bool]
