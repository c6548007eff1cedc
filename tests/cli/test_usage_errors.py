"""A malformed command line gets the answer every bad input gets: one ``error:`` line, one
``hint:`` line naming the fix, exit 2, no Click usage block, and no request to the cluster."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support import run_nfk8s

# args -> (words of the error line, the hint line), for every way Click refuses a command line.
CASES: dict[str, tuple[list[str], str, str]] = {
    "output format not a choice": (
        ["history", "-o", "wide"],
        "--output 'wide' is not one of its choices",
        "use one of table, json, yaml, name",
    ),
    "output format glued to -o": (
        ["status", "-owide"],
        "--output 'wide' is not one of its choices",
        "use one of table, json, yaml, name",
    ),
    "shell argument not a choice": (
        ["completion", "tcsh"],
        "SHELL is not one of its choices",
        "use one of bash, zsh, fish",
    ),
    "whole number expected": (
        ["history", "--limit", "ten"],
        "--limit takes a whole number, not 'ten'",
        "see `nfk8s history --help`",
    ),
    "option without its value": (
        ["cancel", "--grace-period"],
        "--grace-period needs a value",
        "see `nfk8s cancel --help`",
    ),
    "flag given a value with =": (
        ["prune", "--dry-run=yes"],
        "--dry-run takes no value",
        "use --dry-run alone",
    ),
    "flag followed by a stray word": (
        ["prune", "--dry-run", "yes"],
        "--dry-run takes no value, so 'yes' is an extra argument",
        "use --dry-run alone",
    ),
    "missing argument": (
        ["completion"],
        "nfk8s completion needs SHELL",
        "usage: nfk8s completion [OPTIONS] SHELL",
    ),
    "extra argument": (
        ["status", "r1", "r2"],
        "nfk8s status got an extra argument 'r2'",
        "usage: nfk8s status [OPTIONS] [RUN]; quote a value that holds spaces",
    ),
    "unknown option with a close match": (
        ["status", "--outptu", "json"],
        "nfk8s status has no option --outptu",
        "did you mean --output? see `nfk8s status --help`",
    ),
    "unknown option": (
        ["history", "--frobnicate"],
        "nfk8s history has no option --frobnicate",
        "see `nfk8s history --help`",
    ),
    "global option after the command": (
        ["history", "--no-color"],
        "nfk8s history has no option --no-color",
        "global options go before the command: `nfk8s --no-color …`",
    ),
    "unknown global option": (
        ["--colour", "history"],
        "nfk8s has no option --colour",
        "did you mean --no-color? see `nfk8s --help`",
    ),
    "unknown command with a close match": (
        ["staus"],
        "nfk8s has no command 'staus'",
        "did you mean `nfk8s status`?",
    ),
    "unknown command": (["frobnicate"], "nfk8s has no command 'frobnicate'", "see `nfk8s --help`"),
    "options but no command": (["-v"], "nfk8s needs a command", "see `nfk8s --help`"),
    "unknown lock subcommand": (
        ["lock", "steal"],
        "nfk8s lock has no command 'steal'",
        "see `nfk8s lock --help`",
    ),
    "help for an unknown command": (
        ["help", "statsu"],
        "nfk8s has no command 'statsu'",
        "did you mean `nfk8s status`?",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_parser_error_is_one_error_and_one_hint_with_exit_2(name, fakekube, invoke):
    args, error, hint = CASES[name]
    fakekube.requests.clear()
    result = invoke(*args)
    assert result.exit_code == 2, result.stderr
    error_line, hint_line = result.stderr.splitlines()  # nothing else: no usage block
    assert error_line.startswith(f"error: {error}")
    assert hint_line == f"hint: {hint}"
    assert result.stdout == ""
    assert len(fakekube.requests) == 0


def test_the_installed_command_answers_parser_errors_the_same_way(fakekube):
    result = run_nfk8s(fakekube, "history", "-o", "wide")
    assert result.returncode == 2
    assert result.stderr == (
        "error: --output 'wide' is not one of its choices\n"
        "hint: use one of table, json, yaml, name\n"
    )
    assert len(fakekube.requests) == 0


@pytest.mark.parametrize(
    "args",
    [["run", "sim/hello", "--wait-lock", "5s"], ["run", "--wait-lock", "5s", "sim/hello"]],
    ids=["after the pipeline", "before the pipeline"],
)
def test_run_wait_lock_with_its_duration_after_a_space_says_to_use_equals(fakekube, args):
    result = run_nfk8s(fakekube, *args)
    assert result.returncode == 2
    assert result.stderr == (
        "error: --wait-lock takes its duration after '=': '5s' was read as an argument\n"
        "hint: use --wait-lock=5s\n"
    )
    assert len(fakekube.requests) == 0


@pytest.mark.parametrize("param", [["-p", "password=hunter2"], ["--param=password=hunter2"]])
def test_a_word_split_off_a_param_value_is_not_echoed(fakekube, param):
    result = run_nfk8s(fakekube, "run", "sim/hello", *param, "swordfish")
    assert result.returncode == 2
    assert result.stderr == (
        "error: unexpected argument after a -p value: nfk8s run takes one PIPELINE\n"
        "hint: quote a value that holds spaces: -p 'KEY=two words'\n"
    )
    assert len(fakekube.requests) == 0


def test_help_as_a_command_prints_the_help_of_what_follows():
    def nfk8s(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "nfk8s", *args], capture_output=True, text=True, check=False
        )

    for args, via_option in (
        (["help"], ["--help"]),
        (["help", "run"], ["run", "--help"]),
        (["help", "lock", "release"], ["lock", "release", "--help"]),
        (["lock", "help"], ["lock", "--help"]),
    ):
        got, want = nfk8s(*args), nfk8s(*via_option)
        assert (got.returncode, got.stderr) == (0, ""), args
        assert got.stdout == want.stdout and want.stdout.startswith("Usage: nfk8s"), args


def test_no_arguments_still_prints_the_help():
    result = subprocess.run(
        [sys.executable, "-m", "nfk8s"], capture_output=True, text=True, check=False
    )
    assert result.stdout.startswith("Usage: nfk8s") or result.stderr.startswith("Usage: nfk8s")
    assert "error:" not in result.stdout + result.stderr


def test_tab_after_help_completes_command_names():
    def complete(words: str) -> list[str]:
        env = {
            **os.environ,
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split(" ")) - 1),
            "_NFK8S_COMPLETE": "complete_bash",
        }
        done = subprocess.run(
            [sys.executable, "-m", "nfk8s"], env=env, capture_output=True, text=True, check=True
        )
        return done.stdout.split()

    assert complete("nfk8s help st") == ["status"]
    assert complete("nfk8s help lock ") == ["show", "release"]
