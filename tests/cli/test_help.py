"""Every command and option explains itself: one-line help, examples, readable metavars."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import typer

from nfk8s.cli import app

ROOT = typer.main.get_command(app)


def walk(command=ROOT, path=()):
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from walk(sub, (*path, name))


COMMANDS = list(walk())


@pytest.mark.parametrize(
    ("path", "command"), COMMANDS, ids=[" ".join(p) or "nfk8s" for p, _ in COMMANDS]
)
def test_every_command_has_help_examples_and_helpful_options(path, command):
    assert (command.help or "").strip(), f"{path}: no help"
    first = command.help.strip().splitlines()[0]
    assert first.endswith("."), f"{path}: the first help line is a sentence: {first!r}"
    assert "Examples:" in (command.epilog or ""), f"{path}: no examples in the epilog"
    examples = [line for line in command.epilog.splitlines() if "nfk8s " in line]
    assert examples, f"{path}: the examples show no nfk8s command line"
    for param in command.params:
        assert (getattr(param, "help", None) or "").strip(), f"{path}: {param.name} has no help"
        assert "\n" not in param.help.strip(), f"{path}: {param.name} help is one line"


@pytest.mark.parametrize(
    ("path", "command"), COMMANDS, ids=[" ".join(p) or "nfk8s" for p, _ in COMMANDS]
)
def test_help_shows_metavars_not_python_types(path, command):
    result = subprocess.run(
        [sys.executable, "-m", "nfk8s", *path, "--help"], capture_output=True, text=True, check=True
    )
    text = result.stdout
    assert not re.search(r"<(str|int|path|list\[\w+\])>|\{\w+\}|\[\[", text), text
    assert "[default: 0]" not in text
    assert result.stderr == ""


def test_the_metavars_the_readme_uses():
    text = subprocess.run(
        [sys.executable, "-m", "nfk8s", "run", "--help"], capture_output=True, text=True, check=True
    ).stdout
    usage = text.splitlines()[0]
    assert usage == "Usage: nfk8s run [OPTIONS] PIPELINE [-- NEXTFLOW_OPTION...]"
    for shown in (
        "-r, --revision REV",
        "-p, --param KEY=VALUE",
        "--params-file FILE",
        "-c, --config FILE",
        "--name RUN",
        "--resume [SESSION]",
        "--timeout DUR",
        "--head-cpus N",
        "--head-memory QTY",
        "-o, --output FORMAT",
        "--context NAME",
        "-n, --namespace NS",
        "--kubeconfig FILE",
    ):
        assert shown in text, shown
    logs = subprocess.run(
        [sys.executable, "-m", "nfk8s", "logs", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert logs.splitlines()[0] == "Usage: nfk8s logs [OPTIONS] [RUN]"


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["completion", "bash"]])
def test_help_and_completion_scripts_load_neither_kubernetes_nor_rich_nor_pydantic(argv):
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "nfk8s", *argv],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert not loaded & {"kubernetes", "rich", "pydantic", "pydantic_core"}
