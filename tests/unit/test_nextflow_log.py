"""The driver-log parser, on hand-written lines and on real transcripts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from nfk8s.nextflow import LogEvent, LogKind, parse_line, split_label, strip_ansi

LOGS = Path(__file__).parents[2].parent / "shared" / "nextflow-logs"


def parse(line: str) -> LogEvent:
    event = parse_line(line)
    assert event is not None, line
    return event


def test_submitted() -> None:
    e = parse("[ab/123456] Submitted process > NFCORE_RNASEQ:RNASEQ:FASTQC (sample 1)")
    assert e.kind is LogKind.SUBMITTED
    assert e.hash == "ab/123456"
    assert e.hash_prefix == "ab123456"
    assert e.process == "NFCORE_RNASEQ:RNASEQ:FASTQC"
    assert e.tag == "sample 1"


def test_submitted_without_tag() -> None:
    e = parse("[ee/a6f156] Submitted process > UseMem")
    assert (e.kind, e.process, e.tag) == (LogKind.SUBMITTED, "UseMem", None)


def test_tag_with_parentheses() -> None:
    e = parse("[ab/123456] Submitted process > ALIGN (s1 (lane 2))")
    assert (e.process, e.tag) == ("ALIGN", "s1 (lane 2)")


@pytest.mark.parametrize(
    ("verb", "kind"),
    [("Re-submitted", LogKind.RESUBMITTED), ("Cached", LogKind.CACHED)],
)
def test_resubmitted_and_cached(verb: str, kind: LogKind) -> None:
    e = parse(f"[1f/a1a4ca] {verb} process > FASTP (2)")
    assert (e.kind, e.hash, e.process, e.tag) == (kind, "1f/a1a4ca", "FASTP", "2")


def test_stored() -> None:
    e = parse("[skipping] Stored process > BUILD_INDEX (genome.fa)")
    assert (e.kind, e.hash, e.process, e.tag) == (LogKind.STORED, None, "BUILD_INDEX", "genome.fa")


def test_note_retried() -> None:
    e = parse(
        "[94/b48eac] NOTE: Process `FASTP (2)` terminated with an error exit status (137)"
        " -- Execution is retried (1)"
    )
    assert e.kind is LogKind.RETRIED
    assert (e.hash, e.process, e.tag, e.exit_status, e.attempt) == (
        "94/b48eac",
        "FASTP",
        "2",
        137,
        1,
    )


def test_note_retried_without_count_or_exit() -> None:
    e = parse(
        "[12/345678] NOTE: Process `X (a)` terminated for an unknown reason"
        " -- Cause: spot instance reclaimed -- Execution is retried"
    )
    assert (e.kind, e.process, e.exit_status, e.attempt) == (LogKind.RETRIED, "X", None, None)


def test_note_submit_error_retried() -> None:
    e = parse(
        "[23/2801cf] NOTE: Error submitting process 'execute_jobs (12)' for execution"
        " -- Execution is retried (1)"
    )
    assert (e.kind, e.process, e.tag, e.attempt) == (LogKind.RETRIED, "execute_jobs", "12", 1)


def test_note_error_ignored() -> None:
    e = parse(
        "[7e/a18dee] NOTE: Process `PREPROC:grouptgt (grouptgt)` terminated with an error"
        " exit status (127) -- Error is ignored"
    )
    assert (e.kind, e.process, e.tag, e.exit_status) == (
        LogKind.IGNORED,
        "PREPROC:grouptgt",
        "grouptgt",
        127,
    )


def test_other_note() -> None:
    e = parse("NOTE: Your local project version looks outdated")
    assert (e.kind, e.process) == (LogKind.NOTE, None)


def test_old_warn_retried() -> None:
    e = parse(
        "WARN: Process `Mapping (BAN1-L001_5)` terminated with an error exit status (143)"
        " -- Execution is retried (1)"
    )
    assert (e.kind, e.process, e.tag, e.exit_status, e.attempt) == (
        LogKind.RETRIED,
        "Mapping",
        "BAN1-L001_5",
        143,
        1,
    )


@pytest.mark.parametrize("what", ["running", "pending"])
def test_killing(what: str) -> None:
    e = parse(f"WARN: Killing {what} tasks (50)")
    assert (e.kind, e.count) == (LogKind.KILLING, 50)


def test_warn() -> None:
    e = parse("WARN: There's no process matching config selector: FOO")
    assert (e.kind, e.message) == (LogKind.WARN, "There's no process matching config selector: FOO")


def test_task_error_forms() -> None:
    e = parse("ERROR ~ Error executing process > 'merge_sample_crams (ImmHet6564351)'")
    assert (e.kind, e.process, e.tag) == (LogKind.TASK_ERROR, "merge_sample_crams", "ImmHet6564351")
    old = parse("Error executing process > 'sayHello (1)'")
    assert (old.kind, old.process, old.tag) == (LogKind.TASK_ERROR, "sayHello", "1")


def test_other_error() -> None:
    e = parse("ERROR ~ Unable to re-submit task `Mapping (RTR3-L004_2)`")
    assert (e.kind, e.process, e.tag) == (LogKind.ERROR, "Mapping", "RTR3-L004_2")
    generic = parse("ERROR ~ No such file or directory: foo.csv")
    assert (generic.kind, generic.process) == (LogKind.ERROR, None)


def test_launch() -> None:
    e = parse(
        "Launching `https://github.com/nf-core/rnaseq` [soggy_kalam] DSL2 - revision:"
        " 5e54b29cb3 [3.14.0]"
    )
    assert e.kind is LogKind.LAUNCH
    assert (e.pipeline, e.run_name, e.revision, e.branch) == (
        "https://github.com/nf-core/rnaseq",
        "soggy_kalam",
        "5e54b29cb3",
        "3.14.0",
    )
    local = parse("Launching `main.nf` [20261126-0153-k7f2q] DSL2 - revision: d0b3f121ec")
    assert (local.run_name, local.revision, local.branch) == (
        "20261126-0153-k7f2q",
        "d0b3f121ec",
        None,
    )
    old = parse("Launching `nextflow-io/hello` [kickass-williams] - revision: a9012339ce [master]")
    assert old.run_name == "kickass-williams"


def test_cancelled() -> None:
    e = parse("Execution cancelled -- Finishing pending tasks before exit")
    assert e.kind is LogKind.CANCELLED


def test_agent_mode() -> None:
    assert parse("[PROCESS b8/623fc3] sayHello (3)").kind is LogKind.SUBMITTED
    summary = parse("[FAILED] completed=1 failed=1 cached=0")
    assert (summary.kind, summary.status, summary.completed, summary.failed, summary.cached) == (
        LogKind.SUMMARY,
        "FAILED",
        1,
        1,
        0,
    )
    pipeline = parse("[PIPELINE] nf-core/rnaseq 3.14.0 | profile=test,docker")
    assert (pipeline.kind, pipeline.pipeline, pipeline.profile) == (
        LogKind.PIPELINE,
        "nf-core/rnaseq",
        "test,docker",
    )
    assert parse("[WORKDIR] /work").message == "/work"
    assert parse("[WARN] metrics off").kind is LogKind.WARN
    error = parse("[ERROR] FASTQC (sample_1)")
    assert (error.kind, error.process, error.tag) == (LogKind.TASK_ERROR, "FASTQC", "sample_1")
    wrapped = parse("[ERROR] ERROR ~ Error executing process > 'SALMON_INDEX (t.fa)'")
    assert (wrapped.kind, wrapped.process) == (LogKind.TASK_ERROR, "SALMON_INDEX")


def test_ansi_codes_are_stripped() -> None:
    line = "\x1b[2m[\x1b[0;34mab/123456\x1b[0;2m] \x1b[0;2mSubmitted process > \x1b[0mFOO (1)\x1b[K"
    e = parse(line)
    assert (e.kind, e.process, e.tag) == (LogKind.SUBMITTED, "FOO", "1")
    assert strip_ansi("\x1b]0;title\x07WARN: x\r\n") == "WARN: x"
    assert strip_ansi("old text\rWARN: new") == "WARN: new"


@pytest.mark.parametrize(
    "line",
    [
        "",
        "   ",
        "Caused by:",
        "  Process `X (1)` terminated with an error exit status (1)",
        "executor >  k8s (4)",
        "[fd/2642e9] process > PROCESS_FILES (2) [ 66%] 2 of 3, failed: 2",
        "[-        ] process > execute_jobs -",
        "[warm up] executor > k8s",
        "N E X T F L O W  ~  version 25.10.0",
        "[ab/12345] Submitted process > TOO_SHORT_HASH",
        "[PROCESS] nothing",
        "\x00\x01\x02 garbage \udcff",
        "Submitted process > NO_HASH",
    ],
)
def test_unknown_lines_are_none(line: str) -> None:
    assert parse_line(line) is None


def test_arbitrary_input_parses_and_is_never_swallowed() -> None:
    # parse_line turns any exception into None, so "it never raises" can only be seen in
    # what it returns: None where an event is due is an error swallowed.
    bare = ["[", "[]", "WARN:", "ERROR ~", "NOTE:", "[ERROR]", "[PROCESS ab/123456]", "`", "'"]
    assert [parse_line(sample) for sample in bare] == [None] * len(bare)
    kinds = [getattr(parse_line(sample + " x"), "kind", None) for sample in bare]
    assert kinds == [
        None,
        None,
        LogKind.WARN,
        LogKind.ERROR,
        LogKind.NOTE,
        LogKind.TASK_ERROR,
        LogKind.SUBMITTED,
        None,
        None,
    ]
    for code in range(0, 0x110000, 97):
        name = chr(code)
        event = parse_line(f"[ab/123456] Submitted process > {name}")
        assert event is not None, hex(code)
        assert (event.kind, event.process, event.hash) == (LogKind.SUBMITTED, name, "ab/123456")


def test_split_label() -> None:
    assert split_label("A:B:C (x y)") == ("A:B:C", "x y")
    assert split_label("A") == ("A", None)
    assert split_label("A ()") == ("A", "")


# -- real transcripts -------------------------------------------------------------------

# Kind counts per transcript, from reading each one (see SOURCES.md there).
EXPECTED: dict[str, dict[str, int]] = {
    "01": {"launch": 1, "submitted": 1, "task_error": 1},
    "02": {"cached": 5, "submitted": 5, "task_error": 1, "cancelled": 1},
    "03": {"launch": 1, "task_error": 1},
    "04": {"launch": 1, "warn": 1, "task_error": 1},
    "05": {"launch": 1, "task_error": 1},
    "06": {"launch": 1, "warn": 1, "retried": 2, "killing": 1, "task_error": 1},
    "07": {"launch": 1},
    "08": {"resubmitted": 2, "retried": 2, "error": 1, "killing": 1},
    "09": {"cached": 3, "submitted": 7, "task_error": 1},
    "10": {
        "pipeline": 1,
        "workdir": 1,
        "submitted": 1,
        "task_error": 2,
        "error": 1,
        "summary": 1,
    },
    "11": {"pipeline": 1, "workdir": 1, "submitted": 2, "warn": 1, "task_error": 1, "summary": 1},
    "12": {"submitted": 22},
    "13": {"launch": 1, "submitted": 3, "task_error": 1},
    "14": {"launch": 1, "submitted": 1, "task_error": 1},
    "15": {"task_error": 1},
    "16": {"launch": 1, "submitted": 6, "retried": 2, "resubmitted": 2},
    "17": {"launch": 1, "retried": 2},
    "18": {"launch": 1, "retried": 6},
    "19": {"retried": 5, "task_error": 1},
    "20": {"retried": 2, "ignored": 1, "warn": 1},
    "21": {},
    "22": {"killing": 1},
    "23": {"killing": 1},
    "24": {"task_error": 1, "killing": 1},
}


def _transcripts() -> list[Path]:
    return sorted(LOGS.glob("*.log")) if LOGS.is_dir() else []


@pytest.mark.skipif(not LOGS.is_dir(), reason="shared Nextflow transcripts are not present")
@pytest.mark.parametrize("path", _transcripts(), ids=lambda p: p.name[:2])
def test_transcript_counts(path: Path) -> None:
    events = [parse_line(line) for line in path.read_text(encoding="utf-8").splitlines()]
    counts = Counter(e.kind.value for e in events if e is not None)
    assert dict(counts) == EXPECTED[path.name[:2]]
    for event in events:
        if event is not None and event.kind in {
            LogKind.SUBMITTED,
            LogKind.RESUBMITTED,
            LogKind.CACHED,
            LogKind.RETRIED,
            LogKind.IGNORED,
            LogKind.TASK_ERROR,
        }:
            assert event.process, event.line
            assert " " not in event.process, event.line


@pytest.mark.skipif(not LOGS.is_dir(), reason="shared Nextflow transcripts are not present")
def test_every_transcript_has_an_expectation() -> None:
    assert {p.name[:2] for p in _transcripts()} == set(EXPECTED)


@pytest.mark.skipif(not LOGS.is_dir(), reason="shared Nextflow transcripts are not present")
def test_transcript_details() -> None:
    sixteen = (LOGS / "16-local-plain-oom137-retry-resubmitted-fragment.log").read_text()
    retried = [e for e in map(parse_line, sixteen.splitlines()) if e and e.kind is LogKind.RETRIED]
    assert [(e.hash, e.process, e.tag, e.exit_status, e.attempt) for e in retried] == [
        ("94/b48eac", "FASTP", "2", 137, 1),
        ("6a/9137b0", "FASTP", "1", 137, 1),
    ]
    one = (LOGS / "01-k8s-kuberun-plain-unknown-termination.log").read_text()
    launch = next(e for e in map(parse_line, one.splitlines()) if e and e.kind is LogKind.LAUNCH)
    assert (launch.run_name, launch.revision, launch.branch) == (
        "disturbed-bernard",
        "1346a1e46f",
        "k8s",
    )
