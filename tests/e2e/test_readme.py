"""The README, followed by a newcomer: install, completion, a run against the fake server, CI.

The blocks marked ``<!-- readme-test: KIND -->`` in README.md are run as written, from the
checkout, in a scratch home directory: ``shell`` blocks in one shell session (exports carry
over), ``server`` in the background until it prints ``ready``, ``fails`` must exit 1.
The ``github`` and ``gitlab`` YAML examples are then run the way those CI systems would run
them (steps, outputs, conditions; script and after_script), against a pipeline that fails
and, for GitLab, a job that is cancelled.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"<!-- readme-test: (\w+) -->\n```\w+\n(.*?)```", re.DOTALL)
BASH_COMPLETION = Path("/usr/share/bash-completion/bash_completion")


def blocks(kind: str | None = None) -> list[tuple[str, str]]:
    found = [(k, body) for k, body in BLOCK.findall(README) if kind is None or k == kind]
    assert found, f"the README has no readme-test block {kind!r}"
    return found


def commands(body: str) -> list[str]:
    return [line[2:] for line in body.splitlines() if line.startswith("$ ")]


def newcomer_env(home: Path) -> dict[str, str]:
    """A fresh user's environment: their own home, no nfk8s and no project venv on PATH."""
    uv_cache = subprocess.run(
        ["uv", "cache", "dir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    venv_bin = str(Path(sys.executable).parent)
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != venv_bin]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NFK8S_", "GITHUB_", "GITLAB_", "XDG_", "UV_", "VIRTUAL_ENV"))
        and k not in {"CI", "KUBECONFIG", "NO_COLOR", "PYTHONPATH"}
    }
    env.update(
        HOME=str(home),
        PATH=os.pathsep.join([str(home / ".local" / "bin"), *path]),
        UV_CACHE_DIR=uv_cache,  # what this machine has already downloaded
        UV_PYTHON=os.path.realpath(sys.executable),
        UV_NO_SYNC="1",  # `uv run` in the checkout uses the venv as it is
        PYENV_ROOT=os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv")),
    )
    return env


def run_shell(script: str, env: dict[str, str], cwd: Path, timeout: float = 600) -> tuple:
    """Run ``script`` in bash; its exit status, output, and its environment at the end."""
    env_file = cwd / ".env-after" if cwd != ROOT else Path(env["HOME"]) / ".env-after"
    wrapped = f"set -eo pipefail\n{script}\nenv -0 > {shlex.quote(str(env_file))}\n"
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", wrapped],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    after = dict(env)
    if done.returncode == 0 and env_file.exists():
        pairs = env_file.read_text().split("\0")
        after = dict(p.split("=", 1) for p in pairs if "=" in p)
        env_file.unlink()
    return done.returncode, done.stdout + done.stderr, after


def complete(line: str, env: dict[str, str]) -> list[str]:
    """What TAB offers at the end of ``line`` in a new interactive-like bash."""
    words = line.split(" ")
    if BASH_COMPLETION.exists():
        load = f"source {BASH_COMPLETION}; _completion_loader nfk8s"
    else:  # no bash-completion package: what the README says to put in ~/.bashrc
        load = "source <(nfk8s completion bash)"
    program = f"""
{load}
func=$(complete -p nfk8s | sed -E 's/.*-F ([^ ]+).*/\\1/')
COMP_WORDS=({" ".join(shlex.quote(w) for w in words)})
COMP_CWORD={len(words) - 1}
COMP_LINE={shlex.quote(line)}
COMP_POINT=${{#COMP_LINE}}
"$func" nfk8s {shlex.quote(words[-1])} {shlex.quote(words[-2])}
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", program],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return sorted(w for w in done.stdout.splitlines() if w)


# -- CI systems, as far as the README's examples use them ---------------------------------


class GitHubJob:
    """Runs a workflow job's steps: ``run``, ``env``, ``if``, ``id`` and step outputs."""

    def __init__(self, job: dict[str, Any], env: dict[str, str], secrets: dict[str, str]):
        self.job = job
        self.env = {**env, **{k: str(v) for k, v in job.get("env", {}).items()}}
        self.secrets = secrets
        self.outputs: dict[str, dict[str, str]] = {}
        self.failed = False
        self.cancelled = False
        self.results: dict[str, int | None] = {}

    def value(self, ref: str) -> str:
        parts = ref.split(".")
        if parts[0] == "secrets":
            return self.secrets[parts[1]]
        if parts[0] == "steps" and parts[2] == "outputs":
            return self.outputs.get(parts[1], {}).get(parts[3], "")
        if parts[0] == "env":
            return self.env.get(parts[1], "")
        raise AssertionError(f"the emulator does not know {ref}")

    def condition(self, text: str | None) -> bool:
        if text is None:
            return not (self.failed or self.cancelled)
        expr = re.sub(
            r"\b(secrets|steps|env)\.[\w.-]+",
            lambda m: repr(self.value(m.group(0))),
            text.replace("${{", "").replace("}}", ""),
        )
        expr = (
            expr.replace("&&", " and ")
            .replace("||", " or ")
            .replace("success()", str(not (self.failed or self.cancelled)))
            .replace("failure()", str(self.failed))
            .replace("cancelled()", str(self.cancelled))
            .replace("always()", "True")
        )
        expr = re.sub(r"!(?!=)", " not ", expr)
        return bool(eval(expr, {"__builtins__": {}}))  # the README's own text, no builtins

    def substitute(self, text: str) -> str:
        return re.sub(r"\$\{\{\s*([\w.-]+)\s*\}\}", lambda m: self.value(m.group(1)), text)

    def run(self, workdir: Path, *, skip: set[str]) -> None:
        """Run the steps; ``results`` maps each step's name to its exit status (None: skipped)."""
        output = workdir / "github_output"
        for index, step in enumerate(self.job["steps"]):
            name = step.get("name") or f"step {index}"
            if step.get("id") in skip or "run" not in step or not self.condition(step.get("if")):
                self.results[name] = None
                continue
            output.write_text("")
            env = {
                **self.env,
                **{k: self.substitute(str(v)) for k, v in step.get("env", {}).items()},
                "CI": "true",
                "GITHUB_ACTIONS": "true",
                "GITHUB_ACTOR": "octocat",
                "GITHUB_OUTPUT": str(output),
                "GITHUB_STEP_SUMMARY": str(workdir / "summary.md"),
            }
            proc = subprocess.Popen(
                [
                    "bash",
                    "--noprofile",
                    "--norc",
                    "-eo",
                    "pipefail",
                    "-c",
                    self.substitute(step["run"]),
                ],
                cwd=workdir,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
            log, _ = proc.communicate(timeout=600)
            self.results[name] = proc.returncode
            (workdir / f"{name}.log").write_text(log)
            self.outputs[step.get("id", name)] = dict(
                line.split("=", 1) for line in output.read_text().splitlines() if "=" in line
            )
            if proc.returncode != 0 and not self.cancelled:
                self.failed = True


def gitlab_run(
    job: dict[str, Any], env: dict[str, str], workdir: Path, output: Path | None = None
) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """Start a job's ``script`` as GitLab Runner does (one shell, stop at the first failure).

    With ``output``, the job log goes to that file (read it while the job runs) instead of a pipe.
    """
    job_env = {
        **env,
        **{k: str(v) for k, v in job.get("variables", {}).items()},
        "CI": "true",
        "GITLAB_CI": "true",
        "GITLAB_USER_LOGIN": "tanuki",
    }
    proc = subprocess.Popen(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", "\n".join(job["script"])],
        cwd=workdir,
        env=job_env,
        stdout=output.open("w") if output else subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    return proc, job_env


def gitlab_after_script(job: dict[str, Any], env: dict[str, str], workdir: Path, status: str):
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", "\n".join(job["after_script"])],
        cwd=workdir,
        env={**env, "CI_JOB_STATUS": status},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def record(env: dict[str, str], run_id: str) -> dict[str, Any]:
    done = subprocess.run(
        ["nfk8s", "status", run_id, "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)


# -- the test -------------------------------------------------------------------------------


def test_a_newcomer_follows_the_readme(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = newcomer_env(home)
    server: subprocess.Popen[str] | None = None
    transcript: list[str] = []
    try:
        for kind, body in blocks():
            if kind in {"github", "gitlab"}:
                continue
            script = "\n".join(commands(body))
            if kind == "server":
                (command,) = commands(body)
                server = subprocess.Popen(
                    ["bash", "--noprofile", "--norc", "-c", f"exec {command}"],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )
                assert server.stdout is not None
                first = server.stdout.readline()
                assert first.startswith("ready http://127.0.0.1:"), first
                continue
            code, output, after = run_shell(script, env, ROOT)
            transcript.append(f"$ {script}\n{output}")
            if kind == "fails":
                assert code == 1, output
                assert "failed (exit code 1)" in output
                continue
            assert code == 0, f"README block failed:\n{script}\n{output}"
            env = after

        # The installed tool, not the checkout's venv, ran those commands.
        tool = home / ".local" / "share" / "uv" / "tools" / "nfk8s"
        assert (home / ".local" / "bin" / "nfk8s").exists()
        for shipped in (
            "share/bash-completion/completions/nfk8s",
            "share/zsh/site-functions/_nfk8s",
            "share/fish/vendor_completions.d/nfk8s.fish",
        ):
            assert (tool / shipped).is_file(), shipped
        assert (home / ".local/share/bash-completion/completions/nfk8s").read_text() == (
            ROOT / "completions" / "nfk8s.bash"
        ).read_text()

        # Completion works in bash, for commands and for the runs that were just made.
        assert complete("nfk8s lo", env) == ["lock", "logs"]
        history = subprocess.run(
            ["nfk8s", "history", "-o", "json"], env=env, capture_output=True, text=True, check=True
        )
        runs = json.loads(history.stdout)["items"]
        assert sorted(r["status"] for r in runs) == ["failed", "succeeded"]
        assert complete("nfk8s logs ", env) == sorted(r["runId"] for r in runs)

        kubeconfig = Path(env["KUBECONFIG"])
        ci_env = {k: v for k, v in env.items() if k != "KUBECONFIG"}
        check_github_example(tmp_path, ci_env, kubeconfig, env)
        check_gitlab_example(tmp_path, ci_env, kubeconfig, env)
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=10)
            if server.poll() is None:
                server.kill()


def check_github_example(tmp_path: Path, ci_env, kubeconfig: Path, env) -> None:
    (_, body), *_ = blocks("github")
    workflow = yaml.safe_load(body)
    (job,) = workflow["jobs"].values()
    work = tmp_path / "github"
    work.mkdir()
    # A runner's home: the workflow writes the kubeconfig there from the secret.
    runner_home = tmp_path / "runner-home"
    runner_home.mkdir()
    base = {**ci_env, "HOME": str(runner_home)}
    gh = GitHubJob(job, base, {"KUBECONFIG": kubeconfig.read_text()})
    gh.env.update(PIPELINE="sim/fail", NFK8S_NAMESPACE="default")
    gh.run(work, skip={"install"})
    assert gh.results["Submit"] == 0, (work / "Submit.log").read_text()
    run_id = gh.outputs["submit"]["run-id"]
    assert gh.results["Follow"] == 1, "the Follow step fails when the pipeline fails"
    assert gh.failed
    assert gh.results["Cancel the run"] is None  # only when the workflow is cancelled
    assert "::group::" in (work / "Follow.log").read_text()
    assert "❌" in (work / "summary.md").read_text()
    done = record(env, run_id)
    assert done["status"] == "failed" and done["ciActor"] == "octocat"


def check_gitlab_example(tmp_path: Path, ci_env, kubeconfig: Path, env) -> None:
    (_, body), *_ = blocks("gitlab")
    job = yaml.safe_load(body)["nextflow"]
    base = {**ci_env, "KUBECONFIG": str(kubeconfig)}  # the File-type variable

    # A failing pipeline fails the job.
    failing = tmp_path / "gitlab-fail"
    failing.mkdir()
    job["variables"].update(PIPELINE="sim/fail", NFK8S_NAMESPACE="default")
    proc, job_env = gitlab_run(job, base, failing)
    log, _ = proc.communicate(timeout=600)
    assert proc.returncode == 1, log
    after = gitlab_after_script(job, job_env, failing, "failed")
    assert after.returncode == 0, after.stdout + after.stderr
    run_id = (failing / ".nfk8s-run-id").read_text().strip()
    assert record(env, run_id)["status"] == "failed"

    # A cancelled job cancels its run: SIGTERM to the job's processes, then after_script.
    cancelled = tmp_path / "gitlab-cancel"
    cancelled.mkdir()
    job["variables"].update(PIPELINE="sim/slow")
    job_log = tmp_path / "gitlab-cancel.log"
    proc, job_env = gitlab_run(job, base, cancelled, output=job_log)
    # SIGTERM must reach `logs -f --cancel-on-interrupt` once it follows, not the shell between
    # steps (there GitLab's after_script is what cancels): wait for the driver's log in the job log.
    deadline = time.monotonic() + 300
    while "Launching `" not in job_log.read_text():
        assert time.monotonic() < deadline and proc.poll() is None, job_log.read_text()
        time.sleep(0.2)
    run_id = (cancelled / ".nfk8s-run-id").read_text().strip()
    assert record(env, run_id)["status"] == "running"
    os.killpg(proc.pid, signal.SIGTERM)
    proc.communicate(timeout=300)
    assert proc.returncode != 0
    deadline = time.monotonic() + 300  # a loaded 2-core machine: bound generously
    while record(env, run_id)["status"] != "cancelled":  # nfk8s cancels as it exits
        assert time.monotonic() < deadline, record(env, run_id)
        time.sleep(0.3)
    after = gitlab_after_script(job, job_env, cancelled, "canceled")
    assert after.returncode == 0, after.stdout + after.stderr
    lock = subprocess.run(
        ["nfk8s", "lock", "show", "-o", "json"], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(lock.stdout)["holder"] is None
