"""The log cursor admits each line once across reconnects, even when timestamps repeat."""

from __future__ import annotations

from nfk8s.follow import LogCursor, split_stamp

LINES = [
    ("2026-11-26T03:00:00.100000000Z", "a"),
    ("2026-11-26T03:00:00.100000000Z", "b"),
    ("2026-11-26T03:00:00.200000000Z", "c"),
    ("2026-11-26T03:00:01.000000000Z", "d"),
    ("2026-11-26T03:00:01.000000000Z", "e"),
    ("2026-11-26T03:00:01.000000000Z", "f"),
    ("2026-11-26T03:00:02.500000000Z", "g"),
]


def replay(cursor: LogCursor, start: int, cut: int | None) -> list[str]:
    """One stream from the server: every line from the cursor's second on, cut after ``cut``."""
    since = cursor.since()
    cursor.rewind()
    out = []
    served = [
        (s, t) for s, t in LINES if since is None or s[:19] >= since.strftime("%Y-%m-%dT%H:%M:%S")
    ]
    for index, (stamp, text) in enumerate(served):
        if cut is not None and index >= cut:
            break
        if cursor.admit(stamp):
            out.append(text)
    return out


def test_every_cut_point_yields_each_line_exactly_once():
    expected = [t for _, t in LINES]
    for first_cut in range(1, len(LINES) + 1):
        for second_cut in range(1, len(LINES) + 1):
            cursor = LogCursor()
            got = replay(cursor, 0, first_cut)
            got += replay(cursor, 0, second_cut)
            got += replay(cursor, 0, None)
            assert got == expected, (first_cut, second_cut)


def test_split_stamp_pads_fractions_so_text_order_is_time_order():
    stamp, text = split_stamp("2026-11-26T03:00:00.1Z hello world")
    assert stamp == "2026-11-26T03:00:00.100000000Z"
    assert text == "hello world"
    assert split_stamp("2026-11-26T03:00:00Z x")[0] == "2026-11-26T03:00:00.000000000Z"
