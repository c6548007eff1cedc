"""Go's ``time.Parse`` for the two layouts the API uses, with Go's exact error messages.

``metav1.Time`` fields (and ``sinceTime``) are parsed with ``time.RFC3339``, ``metav1.MicroTime``
fields (Lease ``acquireTime``/``renewTime``, Event ``eventTime``) with ``RFC3339Micro``; a
value that does not parse makes the apiserver answer 400 with Go's ``ParseError`` text, e.g.
``parsing time "x" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "x" as "2006"``.
This follows ``time/format.go`` (``parse``, ``skip``, ``getnum``, ``parseNanoseconds``).
"""

from __future__ import annotations

import calendar

RFC3339 = "2006-01-02T15:04:05Z07:00"
RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00"

# Each layout as Go's nextStdChunk splits it: (literal prefix, std element or "" at the end).
_CHUNKS = {
    RFC3339: [
        ("", "2006"),
        ("-", "01"),
        ("-", "02"),
        ("T", "15"),
        (":", "04"),
        (":", "05"),
        ("", "Z07:00"),
        ("", ""),
    ],
    RFC3339_MICRO: [
        ("", "2006"),
        ("-", "01"),
        ("-", "02"),
        ("T", "15"),
        (":", "04"),
        (":", "05"),
        ("", ".000000"),
        ("", "Z07:00"),
        ("", ""),
    ],
}


class _Bad(Exception):
    pass


def _quote(s: str) -> str:
    out = ['"']
    for ch in s:
        if ord(ch) >= 0x80 or ch < " ":
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8"))
        else:
            if ch in '"\\':
                out.append("\\")
            out.append(ch)
    out.append('"')
    return "".join(out)


def _is_digit(s: str, i: int) -> bool:
    return i < len(s) and "0" <= s[i] <= "9"


def _getnum(s: str, fixed: bool) -> tuple[int, str]:
    if not _is_digit(s, 0):
        raise _Bad
    if not _is_digit(s, 1):
        if fixed:
            raise _Bad
        return int(s[0]), s[1:]
    return int(s[:2]), s[2:]


def _atoi(s: str) -> int:
    """Go's time.atoi: an optional sign, then only ASCII digits (none reads as 0)."""
    neg = False
    if s[:1] in ("-", "+") and s:
        neg = s[0] == "-"
        s = s[1:]
    if s and not (s.isascii() and s.isdigit()):
        raise _Bad
    x = int(s) if s else 0
    return -x if neg else x


def _skip(value: str, prefix: str) -> str:
    while prefix:
        if not value or value[0] != prefix[0]:
            raise _Bad(value)
        prefix, value = prefix[1:], value[1:]
    return value


def _parse_nanos(value: str, nbytes: int) -> int:
    if value[0] not in ".,":
        raise _Bad
    nbytes = min(nbytes, 10)
    ns = _atoi(value[1:nbytes])
    if ns < 0:
        raise _Range("fractional second")
    return ns * 10 ** (10 - nbytes)


class _Range(Exception):
    pass


def parse_error(layout: str, value: str) -> str | None:
    """Go's error text for ``time.Parse(layout, value)``, or None if it parses."""
    avalue = value
    year = month = day = -1
    chunks = _CHUNKS[layout]
    for idx, (prefix, std) in enumerate(chunks):
        try:
            value = _skip(value, prefix)
        except _Bad:
            return (
                f"parsing time {_quote(avalue)} as {_quote(layout)}: cannot parse "
                f"{_quote(value)} as {_quote(prefix)}"
            )
        if not std:
            if value:
                return f"parsing time {_quote(avalue)}: extra text: {_quote(value)}"
            break
        hold = value
        range_err = ""
        try:
            if std == "2006":
                if len(value) < 4 or not _is_digit(value, 0):
                    raise _Bad
                year = _atoi(value[:4])
                value = value[4:]
            elif std == "01":
                month, value = _getnum(value, True)
                if month <= 0 or month > 12:
                    range_err = "month"
            elif std == "02":
                day, value = _getnum(value, True)
            elif std == "15":
                hour, value = _getnum(value, False)
                if hour < 0 or hour >= 24:
                    range_err = "hour"
            elif std == "04":
                minute, value = _getnum(value, True)
                if minute < 0 or minute >= 60:
                    range_err = "minute"
            elif std == "05":
                sec, value = _getnum(value, True)
                if sec < 0 or sec >= 60:
                    range_err = "second"
                elif len(value) >= 2 and value[0] in ".," and _is_digit(value, 1):
                    nxt = chunks[idx + 1][1]
                    if nxt != ".000000":
                        # A fraction the layout does not ask for: Go accepts any digits.
                        n = 2
                        while n < len(value) and _is_digit(value, n):
                            n += 1
                        _parse_nanos(value, n)
                        value = value[n:]
            elif std == ".000000":
                ndigit = 7
                if len(value) < ndigit:
                    raise _Bad
                _parse_nanos(value, ndigit)
                value = value[ndigit:]
            elif std == "Z07:00":
                if value[:1] == "Z":
                    value = value[1:]
                else:
                    if len(value) < 6 or value[3] != ":":
                        raise _Bad
                    sign, hh, mm, value = value[0], value[1:3], value[4:6], value[6:]
                    hr, _ = _getnum(hh, True)
                    mi, _ = _getnum(mm, True)
                    if hr > 24:
                        range_err = "time zone offset hour"
                    if mi > 60:
                        range_err = "time zone offset minute"
                    if sign not in "+-":
                        raise _Bad
        except _Range as r:
            range_err = str(r)
        except _Bad:
            return (
                f"parsing time {_quote(avalue)} as {_quote(layout)}: cannot parse "
                f"{_quote(hold)} as {_quote(std)}"
            )
        if range_err:
            return f"parsing time {_quote(avalue)}: {range_err} out of range"
    if month < 0:
        month = 1
    if day < 0:
        day = 1
    days = calendar.monthrange(year, month)[1] if 1 <= year <= 9999 else 31
    if day < 1 or day > days:
        return f"parsing time {_quote(avalue)}: day out of range"
    return None
