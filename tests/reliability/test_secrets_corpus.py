"""Secrets: a corpus of key names and credential-shaped values, -c files, CI masking, errors.

Each planted value must reach the run's Secret and nothing else: no other object in the
cluster, no output format, no cache, no GitHub file and no (masked) job log.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from nfk8s import manifests
from nfk8s.redact import REDACTED
from tests.reliability.helpers import NS
from tests.reliability.secrets_corpus import (
    CONFIG_SECRETS,
    CONFIG_TEXT,
    CREDENTIAL_VALUES,
    KEY_NAMES,
    corpus_params,
    hits,
    lookup,
    planted,
    secret_values,
    shown_values,
)


def test_the_corpus_has_the_counts_its_test_names_promise():
    assert len(KEY_NAMES) == 71
    assert sum(secret for _, secret in KEY_NAMES) == 48
    assert len(CREDENTIAL_VALUES) == 12


def cluster_text(cluster: Any, *, logs: bool = True) -> dict[str, str]:
    """Every object in the namespace but Secrets, and (with ``logs``) every container log."""
    texts: dict[str, str] = {}
    for resource in ("configmaps", "jobs", "pods", "leases", "events", "serviceaccounts"):
        for obj in cluster.api.list(resource, NS):
            texts[f"{resource}/{obj['metadata']['name']}"] = json.dumps(obj)
    for pod in cluster.api.list("pods", NS) if logs else []:
        name = pod["metadata"]["name"]
        texts[f"log {name}"] = "\n".join(cluster.pod_logs(NS, name))
    return texts


def the_secret(cluster: Any, run_id: str) -> dict[str, str]:
    secret = cluster.api.get("secrets", NS, manifests.secret_name(run_id))
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def test_71_key_names_and_12_credential_shaped_values_are_redacted_as_expected_everywhere(
    cluster, invoke, tmp_path
):
    params_file = tmp_path / "params.json"
    params_file.write_text(json.dumps(corpus_params()))
    result = invoke("run", "sim/hello", "--name", "corpus", "--params-file", str(params_file),
                    "--plain", "-o", "json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    shown = json.loads(invoke("status", "corpus", "-o", "json").stdout)["params"]
    wrong = []
    for index, (path, secret) in enumerate(KEY_NAMES):
        expected = REDACTED if secret else planted(index, path)
        if lookup(shown, path) != expected:
            wrong.append((path, lookup(shown, path)))
    for key, _value in CREDENTIAL_VALUES:
        if shown[key] != REDACTED:
            wrong.append((key, shown[key]))
    assert shown["mixed_list"] == ["plain-list-item", REDACTED]
    assert wrong == []
    # The driver got every value, from the Secret.
    assert json.loads(the_secret(cluster, "corpus")["params.json"]) == corpus_params()
    outputs = {"run -o json": result.stdout + result.stderr}
    for args in (["status", "corpus"], ["status", "corpus", "-o", "yaml"], ["history"],
                 ["history", "-o", "json"], ["logs", "corpus"]):  # fmt: skip
        out = invoke(*args)
        assert out.exit_code == 0, (args, out.stderr)
        outputs[" ".join(args)] = out.stdout + out.stderr
    for dry in ("yaml", "json", "name"):
        out = invoke("run", "sim/hello", "--params-file", str(params_file), "--dry-run", "-o", dry)
        assert out.exit_code == 0, out.stderr
        outputs[f"run --dry-run -o {dry}"] = out.stdout + out.stderr
    leaked = {place: hits(text, secret_values()) for place, text in outputs.items()}
    leaked |= {place: hits(text, secret_values()) for place, text in cluster_text(cluster).items()}
    assert {place: found for place, found in leaked.items() if found} == {}
    assert hits(outputs["status corpus -o yaml"], shown_values()) == shown_values()


def test_secrets_in_a_config_file_reach_only_the_secret_and_the_record_lists_its_size(
    cluster, invoke, tmp_path
):
    config = tmp_path / "aws.config"
    config.write_text(CONFIG_TEXT)
    result = invoke("run", "sim/hello", "--name", "cfg", "-c", str(config), "--plain")
    assert result.exit_code == 0, result.stderr
    record = json.loads(invoke("status", "cfg", "-o", "json").stdout)
    assert record["configFiles"] == [{"name": "aws.config", "bytes": len(CONFIG_TEXT.encode())}]
    assert the_secret(cluster, "cfg")["user-1.config"] == CONFIG_TEXT
    job = cluster.api.get("jobs", NS, "nfk8s-cfg")
    argv = job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert f"{manifests.SECRET_MOUNT}/user-1.config" in argv
    dry = invoke("run", "sim/hello", "-c", str(config), "--dry-run", "-o", "json")
    assert dry.exit_code == 0, dry.stderr
    (secret,) = [o for o in json.loads(dry.stdout)["items"] if o["kind"] == "Secret"]
    assert secret["stringData"] == {"user-1.config": "<redacted>"}
    texts = cluster_text(cluster) | {"status": json.dumps(record), "dry-run": dry.stdout}
    assert {p: f for p, t in texts.items() if (f := hits(t, list(CONFIG_SECRETS.values())))} == {}


def unmask(log: str) -> str:
    """What GitHub shows: every ``::add-mask::`` value of the log replaced by ``***``."""
    masks = []
    for match in re.finditer(r"^::add-mask::(.*)$", log, re.MULTILINE):
        value = match[1].replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")
        masks.append(value)
    for value in sorted(masks, key=len, reverse=True):
        log = log.replace(value, "***")
    return log


def test_a_github_actions_run_whose_pipeline_prints_its_params_leaks_no_planted_value(
    cluster, invoke, tmp_path
):
    home = tmp_path / "home"
    env = {
        "GITHUB_ACTIONS": "true",
        "CI": "true",
        "GITHUB_OUTPUT": str(tmp_path / "github_output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "step_summary"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_RUNTIME_DIR": str(home / "run"),
    }
    (home / "run").mkdir(parents=True)
    params_file = tmp_path / "params.yaml"
    params = corpus_params()
    params["ssh_key"] = "line-one-of-a-key-7c1\nline-two-of-a-key-7c2"  # multi-line
    params_file.write_text(yaml.safe_dump(params))
    config = tmp_path / "creds.config"
    config.write_text(CONFIG_TEXT)
    planted_values = [*secret_values(), params["ssh_key"]]
    # nf-core pipelines (and the simulator's) print every param in a header.
    submit = invoke("run", "nf-core/rnaseq", "--name", "gha", "--params-file", str(params_file),
                    "-c", str(config), "--detach", **env)  # fmt: skip
    assert submit.exit_code == 0, submit.stderr
    follow = invoke("logs", "-f", "gha", **env)
    assert follow.exit_code == 0, follow.stderr
    again = invoke("logs", "gha", **env)  # a later step, or another job: masks read back
    job_log = "\n".join(r.stdout + r.stderr for r in (submit, follow, again))
    raw = "\n".join(r.stdout + r.stderr for r in (follow, again))
    assert "registry_mirror" in raw and "Input/output options" in raw  # the header was printed
    assert hits(raw, planted_values)  # so unmasked, it would leak
    # The driver's own container log holds what the pipeline printed: nfk8s cannot hide
    # that from `kubectl logs` (the README says so); every object is checked.
    places = {"masked job log": unmask(job_log)} | cluster_text(cluster, logs=False)
    places["logs (after masking)"] = unmask(again.stdout + again.stderr)
    for name in ("github_output", "step_summary"):
        places[f"${name.upper()}"] = (tmp_path / name).read_text()
    for path in home.rglob("*"):
        if path.is_file():
            places[f"file {path.relative_to(home)}"] = path.read_text(errors="replace")
    for fmt in ("json", "yaml", "name"):
        for args in (["status", "gha"], ["history"], ["cancel", "gha"]):
            out = invoke(*args, "-o", fmt, **env)
            places[f"{' '.join(args)} -o {fmt}"] = out.stdout + out.stderr
    leaked = {
        place: found for place, text in places.items() if (found := hits(text, planted_values))
    }
    assert leaked == {}
    assert "run-id=gha" in places["$GITHUB_OUTPUT"]


# -- errors and bad input --------------------------------------------------------------------

VALUE = "Sup3r-S3cret-Val"


@pytest.mark.parametrize(
    "args",
    [
        ["-p", f"db password={VALUE}"],
        ["-p", VALUE],
        ["-p", f".db_pass={VALUE}"],
        ["-p", f"a..b={VALUE}"],
    ],
    ids=["space in key", "no equals", "leading dot", "empty name"],
)
def test_an_invalid_parameter_is_named_by_its_key_never_its_value(fakekube, invoke, args):
    fakekube.requests.clear()
    result = invoke("run", "sim/hello", *args)
    assert result.exit_code == 2
    assert VALUE not in result.stdout + result.stderr
    assert "error: invalid parameter" in result.stderr
    assert fakekube.requests.writes() == []


def test_the_key_is_named_in_the_message_about_a_key_with_a_space(invoke):
    result = invoke("run", "sim/hello", "-p", f"db password={VALUE}")
    assert "error: invalid parameter 'db password': the key has whitespace" in (
        result.stderr.splitlines()
    )


def _params_file(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("how", "problem"),
    [
        ("-p v=1e400", "not finite"),
        ("-p v=-1e999", "not finite"),
        ("-p v=[1, 1e400]", "not finite"),
        ("params.json 1e400", "not finite"),
        ("params.yaml .inf", "not finite"),
        ("params.yaml .nan", "not finite"),
        ('-p v="\\ud800"', "not valid Unicode"),
        ('-p v={"k": "\\udfff"}', "not valid Unicode"),
        ("params.json \\ud800", "not valid Unicode"),
        ("params.yaml \\ud800", "not valid Unicode"),
    ],
)
def test_non_finite_numbers_and_lone_surrogates_are_bad_input_on_both_routes(
    fakekube, invoke, tmp_path, how, problem
):
    route, _, value = how.partition(" ")
    if route == "-p":
        args = ["-p", value]
    elif route == "params.json":
        body = '{"v": 1e400}' if value == "1e400" else '{"v": "\\ud800"}'
        args = ["--params-file", str(_params_file(tmp_path, "p.json", body))]
    else:
        body = f"v: {value}\n" if value.startswith(".") else 'v: "\\ud800"\n'
        args = ["--params-file", str(_params_file(tmp_path, "p.yaml", body))]
    fakekube.requests.clear()
    result = invoke("run", "sim/hello", *args)
    assert result.exit_code == 2, result.stderr
    ours = result.stderr.splitlines()
    assert len(ours) == 2, result.stderr
    assert problem in ours[0] and ours[0].startswith("error: invalid ")
    assert ours[1].startswith("hint: ")
    assert fakekube.requests.writes() == []
