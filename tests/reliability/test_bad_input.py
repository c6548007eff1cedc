"""Bad input: exit 2, a message naming the problem (and the fix), and no write to the cluster.

Whether nfk8s's own checks or the command-line parser refuse it, the answer is one
``error: ...`` line and at most one ``hint: ...`` line, and the server sees no write (reads
to find out that a run does not exist are fine).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Case:
    args: list[str]
    expected: str  # in the message, case-insensitive
    env: dict[str, str] = field(default_factory=dict)


def cases(tmp: Path) -> dict[str, Case]:
    bad_json = tmp / "bad.json"
    bad_json.write_text("{not json")
    not_mapping = tmp / "list.yaml"
    not_mapping.write_text("- a\n- b\n")
    no_main = tmp / "nomain"
    no_main.mkdir()
    big = tmp / "big"
    big.mkdir()
    (big / "main.nf").write_text("workflow { }\n")
    (big / "data.txt").write_bytes(b"x" * (1024 * 1024))
    a_file = tmp / "main.nf"
    a_file.write_text("workflow { }\n")
    bad_toml = tmp / "bad.toml"
    bad_toml.write_text("head_memory = [unclosed\n")
    unknown_key = tmp / "unknown.toml"
    unknown_key.write_text('colour = "blue"\n')
    garbled_kubeconfig = tmp / "garbled.kubeconfig"
    garbled_kubeconfig.write_text("clusters: [ {{ not yaml\n")
    misshapen_kubeconfig = tmp / "misshapen.kubeconfig"
    misshapen_kubeconfig.write_text("clusters: 5\ncontexts: nope\ncurrent-context: x\n")
    run = ["run", "sim/hello"]
    return {
        # -- run: parameters and files
        "param without =": Case([*run, "-p", "outdir"], "KEY=VALUE"),
        "param with empty key": Case([*run, "-p", "=x"], "KEY=VALUE"),
        "params file missing": Case([*run, "--params-file", str(tmp / "none.json")], "params"),
        "params file invalid": Case([*run, "--params-file", str(bad_json)], "params"),
        "params file not a mapping": Case([*run, "--params-file", str(not_mapping)], "mapping"),
        "params file is a directory": Case([*run, "--params-file", str(tmp)], "params"),
        "-c config file missing": Case([*run, "-c", str(tmp / "missing.config")], "config"),
        # -- run: the pipeline
        "local dir without main.nf": Case(["run", str(no_main)], "main.nf"),
        "local dir too large": Case(["run", str(big)], "KiB"),
        "pipeline is a file": Case(["run", str(a_file)], "is a file"),
        "pipeline looks like an option": Case(["run", "--", "-with-trace"], "option"),
        "pipeline with a control character": Case(["run", "nf-core/rna\x1bseq"], "control"),
        # -- run: names, revisions, profiles
        "profile syntax": Case([*run, "--profile", "test;rm -rf"], "profile"),
        "revision with ..": Case([*run, "-r", "main..dev"], "revision"),
        "revision starting with -": Case([*run, "--revision=-c"], "revision"),
        "name not DNS-1123": Case([*run, "--name", "My_Run"], "run name"),
        "name too long": Case([*run, "--name", "a" * 60], "run name"),
        "name starts with digit": Case([*run, "--name", "1run"], "letter"),
        "name with --": Case([*run, "--name", "a--b"], "--"),
        "name reserved by Nextflow": Case([*run, "--name", "last"], "reserves"),
        # -- run: durations and resources
        "negative timeout": Case([*run, "--timeout", "-5m"], "duration"),
        "garbled timeout": Case([*run, "--timeout", "soon"], "duration"),
        "garbled wait-lock": Case([*run, "--wait-lock=later"], "duration"),
        "garbled cpus": Case([*run, "--head-cpus", "lots"], "cpu"),
        "negative memory": Case([*run, "--head-memory", "-4Gi"], "memory"),
        # -- run: contradictions and parser errors
        "attach with wait-lock": Case([*run, "--attach", "--wait-lock"], "--attach"),
        "detach with attach": Case([*run, "--detach", "--attach"], "--detach"),
        "unknown output format": Case([*run, "-o", "xml"], "--output"),
        "unknown option": Case([*run, "--bogus"], "no option --bogus"),
        "missing pipeline": Case(["run"], "needs PIPELINE"),
        # -- where to connect
        "unknown context": Case([*run, "--context", "nope"], "context"),
        "missing kubeconfig": Case([*run, "--kubeconfig", str(tmp / "none")], "kubeconfig"),
        "garbled kubeconfig": Case([*run, "--kubeconfig", str(garbled_kubeconfig)], "kubeconfig"),
        "misshapen kubeconfig": Case(
            [*run, "--kubeconfig", str(misshapen_kubeconfig)], "cannot read kubeconfig"
        ),
        # -- settings from the environment and the config file
        "invalid setting in env": Case(run, "NFK8S_HEAD_MEMORY", {"NFK8S_HEAD_MEMORY": "lots"}),
        "invalid namespace in env": Case(run, "namespace", {"NFK8S_NAMESPACE": "Team_A"}),
        "config file not TOML": Case(run, "TOML", {"NFK8S_CONFIG": str(bad_toml)}),
        "config file unknown setting": Case(
            run, "unknown setting", {"NFK8S_CONFIG": str(unknown_key)}
        ),
        "settings file missing": Case(
            run, "does not exist", {"NFK8S_CONFIG": str(tmp / "no.toml")}
        ),
        # -- the other commands
        "logs --process without --tasks": Case(["logs", "--process", "FASTQC"], "--tasks"),
        "logs negative tail": Case(["logs", "--tail", "-1"], "--tail"),
        "logs garbled since": Case(["logs", "--since", "yesterday"], "duration"),
        "logs of no such run": Case(["logs", "nosuchrun"], "no run"),
        "status of no such run": Case(["status", "nosuchrun"], "no run"),
        "cancel of no such run": Case(["cancel", "nosuchrun"], "no run"),
        "cancel negative grace": Case(["cancel", "--grace-period", "-1"], "--grace-period"),
        "history limit 0": Case(["history", "--limit", "0"], "--limit"),
        "history unknown status": Case(["history", "--status", "done"], "unknown status"),
        "history empty pipeline": Case(["history", "--pipeline", " "], "--pipeline"),
        "history garbled limit": Case(["history", "--limit", "ten"], "--limit"),
        "prune negative keep": Case(["prune", "--keep", "-1"], "--keep"),
        "prune garbled older-than": Case(["prune", "--older-than", "ages"], "older-than"),
        "lock release without --force": Case(["lock", "release"], "--force"),
    }


def _names() -> list[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return list(cases(Path(tmp)))


NAMES = _names()


def test_the_table_has_the_count_its_test_name_promises():
    assert len(NAMES) == 53


@pytest.mark.parametrize("name", NAMES)
def test_each_of_53_malformed_inputs_exits_2_with_a_message_and_writes_nothing(
    name, cluster, invoke, tmp_path
):
    case = cases(tmp_path)[name]
    cluster.requests.clear()
    result = invoke(*case.args, **case.env)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert case.expected.lower() in result.stderr.lower(), result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("error: "), result.stderr
    assert len(lines) <= 2, result.stderr  # the error, and at most one hint
    assert all(line.startswith("hint: ") for line in lines[1:]), result.stderr
    assert result.stdout == ""
    assert cluster.requests.writes() == []
