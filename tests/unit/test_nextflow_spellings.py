"""Nextflow's spellings on ``nfk8s run``'s command line, and the options passed after ``--``."""

from __future__ import annotations

import pytest
import typer

from nfk8s.cli import app, normalise_argv
from nfk8s.errors import BadInput
from nfk8s.inputs import (
    NEXTFLOW_ALIASES,
    NEXTFLOW_OPTIONS,
    RUN_FLAGS,
    RUN_OPTIONAL_VALUE,
    RUN_VALUE_OPTIONS,
    check_nextflow_options,
    nextflow_options_help,
    nextflow_style_argv,
    parse_resume,
)
from nfk8s.models import RunRecord, RunSpec
from nfk8s.nextflow import driver_argv

SESSION = "4f1c2a4e-77b0-4f43-8d8f-3c2b1a0e9d88"


def run_words(*words: str) -> list[str]:
    return nextflow_style_argv(["run", *words])[1:]


def refused(*words: str) -> BadInput:
    with pytest.raises(BadInput) as caught:
        run_words(*words)
    assert caught.value.exit_code == 2
    return caught.value


# -- the aliases --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alias", "own"),
    [(a, o) for a, o in NEXTFLOW_ALIASES.items() if o not in {"--resume", "--latest"}],
)
def test_each_value_alias_is_read_in_both_its_forms(alias, own):
    assert run_words("sim/hello", alias, "v") == ["sim/hello", own, "v"]
    assert run_words("sim/hello", f"{alias}=v") == ["sim/hello", f"{own}=v"]
    assert run_words(alias, "v", "sim/hello") == [own, "v", "sim/hello"]


def test_latest_is_a_flag_that_takes_no_value():
    assert run_words("sim/hello", "-latest", "-d") == ["sim/hello", "--latest", "-d"]
    assert run_words("-latest", "sim/hello") == ["--latest", "sim/hello"]


def test_short_options_with_an_equals_sign_are_read_as_the_long_ones():
    assert run_words("x/y", "-c=a.config", "-p=k=1", "-r=main") == [
        "x/y",
        "--config=a.config",
        "--param=k=1",
        "--revision=main",
    ]


def test_the_reports_of_the_issue_are_read_as_nextflow_users_mean_them():
    assert run_words("sim/hello", "-resume") == ["sim/hello", "--resume=last"]
    assert run_words("sim/hello", "-profile=test") == ["sim/hello", "--profile=test"]
    assert run_words("sim/hello", "-profile", "test") == ["sim/hello", "--profile", "test"]


@pytest.mark.parametrize("spelling", ["-resume", "--resume"])
def test_resume_takes_the_next_word_only_when_it_is_a_session(spelling):
    assert run_words("sim/hello", spelling, SESSION) == ["sim/hello", f"--resume={SESSION}"]
    assert run_words("sim/hello", spelling, "last") == ["sim/hello", "--resume=last"]
    assert run_words(spelling, "sim/hello") == ["--resume=last", "sim/hello"]
    assert run_words("sim/hello", spelling, "-d") == ["sim/hello", "--resume=last", "-d"]
    assert run_words("sim/hello", spelling, "--", "-stub") == [
        "sim/hello",
        "--resume=last",
        "--",
        "-stub",
    ]
    assert run_words("sim/hello", f"{spelling}={SESSION}") == ["sim/hello", f"--resume={SESSION}"]


def test_a_mistyped_session_after_resume_is_refused_as_a_session():
    error = refused("sim/hello", "-resume", SESSION[:-3])
    assert "invalid session id" in error.message
    assert "UUID" in (error.hint or "")


def test_option_values_are_never_read_as_options():
    words = ["x/y", "-p", "a=-resume", "--name", "-profile", "-r", "-latest", "--", "-stub"]
    assert run_words(*words) == words


def test_global_options_before_run_and_other_commands_are_left_alone():
    assert nextflow_style_argv(["-n", "ns", "--no-color", "run", "x/y", "-resume"]) == [
        "-n",
        "ns",
        "--no-color",
        "run",
        "x/y",
        "--resume=last",
    ]
    assert nextflow_style_argv(["history", "-resume"]) == ["history", "-resume"]
    assert nextflow_style_argv(["-n", "run", "logs", "-resume"]) == ["-n", "run", "logs", "-resume"]


def test_normalise_argv_reads_the_spellings_and_a_lone_wait_lock():
    assert normalise_argv(["run", "x/y", "-resume", "--wait-lock"]) == [
        "run",
        "x/y",
        "--resume=last",
        "--wait-lock=forever",
    ]


# -- single-dash words that are not options ---------------------------------------------


@pytest.mark.parametrize(
    ("word", "double"),
    [("-timeout", "--timeout"), ("-detach", "--detach"), ("-dry-run", "--dry-run")],
)
def test_nfk8s_options_with_one_dash_are_refused_naming_the_double_dash_form(word, double):
    error = refused("x/y", word, "5m")
    assert error.message == f"unknown option {word!r}"
    assert f"two dashes: {double}" in (error.hint or "")


def test_nextflow_options_before_the_double_dash_are_refused_naming_where_they_go():
    error = refused("x/y", "-stub")
    assert "-- -stub" in (error.hint or "")


def test_unknown_single_dash_words_are_refused_naming_the_double_dash_form():
    for word in ("-foo", "-rmain", "-pkey=1", "-dh"):
        error = refused("x/y", word)
        assert error.message.startswith("unknown option"), word
        assert "two dashes" in (error.hint or ""), word


def test_a_second_positional_before_the_double_dash_is_refused():
    assert "one PIPELINE" in refused("x/y", "extra").message
    assert run_words("x/y", "--", "extra") == ["x/y", "--", "extra"]


# -- --resume's value ---------------------------------------------------------------------


def test_parse_resume():
    assert parse_resume(None) == (False, None)
    assert parse_resume("last") == (True, None)
    assert parse_resume(SESSION.upper()) == (True, SESSION)
    for bad in ("esume", "1234", SESSION + "0", f" {SESSION}x"):
        with pytest.raises(BadInput, match="invalid session id"):
            parse_resume(bad)


# -- the pass-through list ----------------------------------------------------------------


@pytest.mark.parametrize(
    "words",
    [
        ["-stub"],
        ["-stub-run", "-preview"],
        ["-entry", "QC"],
        ["-with-report"],
        ["-with-report", "report.html", "-with-trace", "-with-timeline", "t.html"],
        ["-with-dag", "dag.svg", "-dump-hashes"],
        ["-dump-hashes", "json", "-cache", "false", "-qs", "4", "-queue-size", "8"],
        ["-main-script", "flows/other.nf", "-entry", "X"],
        [],
    ],
)
def test_allowed_nextflow_options_pass_as_given(words):
    assert check_nextflow_options(words) == tuple(words)


@pytest.mark.parametrize(
    ("words", "hint_says"),
    [
        (["-c", "x.config"], "-c FILE"),
        (["-config", "x.config"], "-c FILE"),
        (["-C", "x.config"], "-c FILE"),
        (["-params-file", "p.yaml"], "--params-file FILE"),
        (["--token", "s3cret"], "-p KEY=VALUE"),
        (["--token=s3cret"], "-p KEY=VALUE"),
        (["-process.containerOptions=--env X=1"], "-c FILE"),
        (["-e.TOKEN=s3cret"], "-c FILE"),
        (["-bg"], "--detach"),
        (["-w", "/elsewhere"], "work directory"),
        (["-work-dir", "/elsewhere"], "work directory"),
        (["-log", "x.log"], "nfk8s logs"),
        (["-ansi-log", "true"], "plain"),
        (["-resume"], "before --"),
        (["-profile", "test"], "before --"),
        (["-r", "main"], "before --"),
        (["-name", "x"], "before --"),
        (["-latest"], "before --"),
        (["-o", "json"], "before --"),
        (["-with-tower"], "-stub"),
        (["results"], "-stub"),
        (["-entry"], "-entry NAME"),
        (["-entry", "-stub"], "-entry NAME"),
        (["-entry=QC"], "-entry NAME"),
        (["-entry", "a b"], "-entry NAME"),
        (["-cache", "maybe"], "true|false"),
        (["-qs", "0"], "-qs N"),
        (["-dump-hashes", "yaml"], "json"),
        (["-with-report", "a\nb"], "FILE"),
    ],
)
def test_other_words_after_the_double_dash_are_refused_with_a_hint(words, hint_says):
    with pytest.raises(BadInput) as caught:
        check_nextflow_options(words)
    assert caught.value.exit_code == 2
    assert hint_says in (caught.value.hint or "")
    # Values can be secrets: a refusal names the option, never what followed it.
    assert "s3cret" not in caught.value.message + (caught.value.hint or "")


def test_every_allowed_option_is_listed_in_run_help():
    command = typer.main.get_command(app).commands["run"]  # type: ignore[attr-defined]
    shown = " ".join(command.epilog.split())
    assert " ".join(nextflow_options_help().replace(", ", " ").split()) in shown.replace(",", "")
    for name in NEXTFLOW_OPTIONS:
        assert name in shown


def test_the_option_tables_match_the_run_command():
    command = typer.main.get_command(app).commands["run"]  # type: ignore[attr-defined]
    takes_value = set()
    flags = set()
    for param in command.params:
        if getattr(param, "param_type_name", "") != "option":
            continue
        names = set(param.opts) | set(param.secondary_opts)
        (flags if param.is_flag else takes_value).update(names)
    assert takes_value == set(RUN_VALUE_OPTIONS) | RUN_OPTIONAL_VALUE
    assert flags | {"-h", "--help"} == RUN_FLAGS  # help is no param of the command
    assert set(NEXTFLOW_ALIASES.values()) <= takes_value | flags


# -- the driver's argv and the record --------------------------------------------------


def test_driver_argv_passes_latest_the_options_and_the_session_last():
    spec = RunSpec(
        run_id="r1",
        pipeline="nf-core/rnaseq",
        resume=True,
        resume_session=SESSION,
        latest=True,
        nextflow_options=("-stub", "-with-trace"),
    )
    argv = driver_argv(spec, config_paths=[], params_path=None)
    assert argv[-5:] == ["-latest", "-stub", "-with-trace", "-resume", SESSION]
    local = RunSpec(run_id="r1", pipeline="/p", local_pipeline={}, latest=True, resume=True)
    assert driver_argv(local, config_paths=[], params_path=None, pipeline_path="/w")[-1:] == [
        "-resume"
    ]
    assert "-latest" not in driver_argv(local, config_paths=[], params_path=None)


def test_record_keeps_the_session_latest_and_options_and_reads_old_records():
    record = RunRecord(
        run_id="r1", resume=True, resume_session=SESSION, latest=True, nextflow_options=["-stub"]
    )
    data = record.to_json()
    assert (data["resumeSession"], data["latest"], data["nextflowOptions"]) == (
        SESSION,
        True,
        ["-stub"],
    )
    assert RunRecord.from_json(data) == record
    old = RunRecord.from_json({"runId": "r0", "resume": True})
    assert (old.resume_session, old.latest, old.nextflow_options) == (None, False, [])
