"""Shell completion: shipped scripts match the app; commands, options and run ids complete fast."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from nfk8s import completion
from nfk8s.completion import INSTALL_DIRS, SCRIPT_FILES, RunCache, RunChoice, Shell
from tests.fakekube.util import poll_until
from tests.support import nfk8s_env, run_nfk8s

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent
T = TypeVar("T")


def env_for(fk, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = nfk8s_env(fk, XDG_CACHE_HOME=str(tmp_path / "cache"), **extra)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def bash_complete(line: str, env: dict[str, str], script: Path) -> list[str]:
    """What bash offers for TAB at the end of ``line``, with ``script`` sourced."""
    words = line.split(" ")
    program = f"""
source {script}
COMP_WORDS=({" ".join(f"'{w}'" for w in words)})
COMP_CWORD={len(words) - 1}
COMP_LINE='{line}'
COMP_POINT=${{#COMP_LINE}}
_nfk8s_completion nfk8s '{words[-1]}' '{words[-2] if len(words) > 1 else ""}'
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [line for line in done.stdout.splitlines() if line]


def while_fresh(cached: Path, press: Callable[[], T]) -> T:
    """``press()`` with the run-id cache fresh from its start to its end.

    The cache lives CACHE_TTL_SECONDS of wall time, and a busy machine may take longer for
    one press: such a press (which may have listed the runs again) is repeated with the
    cache renewed, and only one that fitted in the cache's lifetime counts.
    """
    for _ in range(20):
        data = json.loads(cached.read_text())
        data["fetchedAt"] = time.time()
        cached.write_text(json.dumps(data))
        answer = press()
        if time.time() - data["fetchedAt"] < completion.CACHE_TTL_SECONDS:
            return answer
    pytest.fail("no press fitted in the run-id cache's lifetime")


def start_run(fk, *args: str) -> str:
    result = run_nfk8s(fk, "run", "sim/hello", "--detach", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize("shell", list(Shell))
def test_shipped_scripts_are_what_the_app_generates(shell):
    shipped = ROOT / "completions" / SCRIPT_FILES[shell]
    generated = subprocess.run(
        [sys.executable, "-m", "nfk8s", "completion", shell.value],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert shipped.read_text(encoding="utf-8") == generated, (
        f"{shipped} is stale: regenerate it with `nfk8s completion {shell.value} > {shipped}`"
    )


def test_the_wheel_installs_each_script_where_its_shell_looks():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    shared = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["shared-data"]
    assert shared == {f"completions/{SCRIPT_FILES[s]}": INSTALL_DIRS[s] for s in Shell}


def test_bash_completes_commands_options_and_values(cluster, tmp_path):
    env = env_for(cluster, tmp_path)
    script = ROOT / "completions" / "nfk8s.bash"
    assert bash_complete("nfk8s lo", env, script) == ["logs", "lock"]
    assert "--revision" in bash_complete("nfk8s run --re", env, script)
    assert bash_complete("nfk8s history --status su", env, script) == ["succeeded"]
    assert bash_complete("nfk8s run sim/hello -o ya", env, script) == ["yaml"]
    assert bash_complete("nfk8s completion z", env, script) == ["zsh"]


def test_bash_completes_run_ids_from_the_cluster_then_from_the_cache(cluster, tmp_path):
    first = start_run(cluster, "--name", "r20260101-0000-aaaaa")
    run_nfk8s(cluster, "cancel", first)
    second = start_run(cluster, "--name", "r20260102-0000-bbbbb")
    env = env_for(cluster, tmp_path)
    script = ROOT / "completions" / "nfk8s.bash"
    cluster.requests.clear()
    assert sorted(bash_complete("nfk8s logs ", env, script)) == [first, second]
    lists = cluster.requests.filter(verb="list", resource="configmaps")
    assert len(lists) == 1
    assert lists[0].query.get("includeObject") == "Metadata"  # labels, not the records' data
    (cached,) = (tmp_path / "cache" / "nfk8s").glob("runs-*.json")
    assert "r20260102-0000-bbbbb" in cached.read_text()
    # Within the cache's lifetime nothing more reaches the API server.
    status = while_fresh(cached, lambda: bash_complete("nfk8s status r20260102", env, script))
    cancel = while_fresh(cached, lambda: bash_complete("nfk8s cancel r2026010", env, script))
    assert status == [second]
    assert cancel == [second, first]  # newest first
    assert len(cluster.requests.filter(verb="list", resource="configmaps")) == 1


def test_another_namespace_is_another_cache(cluster, tmp_path):
    run_id = start_run(cluster)
    env = env_for(cluster, tmp_path)
    script = ROOT / "completions" / "nfk8s.bash"
    assert bash_complete("nfk8s logs ", env, script) == [run_id]
    assert bash_complete("nfk8s logs -n kube-system ", env, script) == []
    assert bash_complete("nfk8s --namespace kube-system logs ", env, script) == []
    assert len(list((tmp_path / "cache" / "nfk8s").glob("runs-*.json"))) == 2


def test_presses_while_another_lists_offer_the_known_ids_without_listing_again(cluster, tmp_path):
    from filelock import FileLock

    run_id = start_run(cluster)
    env = env_for(
        cluster, tmp_path, COMP_WORDS="nfk8s logs ", COMP_CWORD="2", _NFK8S_COMPLETE="complete_bash"
    )

    def press() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(BIN / "nfk8s")], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    assert press().communicate(timeout=60)[0].split() == [run_id]
    (cached,) = (tmp_path / "cache" / "nfk8s").glob("runs-*.json")
    data = json.loads(cached.read_text())
    cached.write_text(json.dumps({**data, "fetchedAt": 0}))  # long expired
    cluster.requests.clear()
    # Another press is listing (it holds the cache's lock) for as long as these take:
    # each waits its bound for that listing, then offers the ids it knows.
    with FileLock(cached.with_suffix(".lock")):
        presses = [press() for _ in range(4)]
        assert [p.communicate(timeout=60)[0].split() for p in presses] == [[run_id]] * 4
    assert cluster.requests.filter(verb="list", resource="configmaps") == []
    # One that lands while they wait is shared: test_misses_waiting_on_a_listing_use_it_...


def test_an_unreachable_cluster_completes_nothing_quietly(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\n"
        "clusters: [{name: gone, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "contexts: [{name: gone, context: {cluster: gone, user: u}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
    )
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "NFK8S_CONFIG": os.devnull,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "COMP_WORDS": "nfk8s logs ",
        "COMP_CWORD": "2",
        "_NFK8S_COMPLETE": "complete_bash",
    }
    # A refused connection ends the attempt at once; the bound only catches a hang.
    done = subprocess.run(
        [str(BIN / "nfk8s")], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0
    assert done.stdout.strip() == ""
    assert done.stderr == ""


def imported_modules(env: dict[str, str]) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "nfk8s"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.strip(), done.stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_completion_imports_neither_kubernetes_nor_rich_nor_pydantic(cluster, tmp_path):
    run_id = start_run(cluster)
    base = env_for(cluster, tmp_path, _NFK8S_COMPLETE="complete_bash")
    words = {**base, "COMP_WORDS": "nfk8s lo", "COMP_CWORD": "1"}
    assert not imported_modules(words) & {"kubernetes", "rich", "pydantic"}
    runs = {**base, "COMP_WORDS": "nfk8s logs ", "COMP_CWORD": "2"}
    assert "kubernetes" in imported_modules(runs)  # a miss lists the runs
    # A hit is answered from the cache file alone.
    (cached,) = (tmp_path / "cache" / "nfk8s").glob("runs-*.json")
    assert run_id in cached.read_text()
    hit = while_fresh(cached, lambda: imported_modules(runs))
    assert not hit & {"kubernetes", "rich", "filelock", "pydantic"}


@pytest.mark.parametrize("shell", [Shell.zsh, Shell.fish])
def test_zsh_and_fish_answers_carry_help(shell, cluster, tmp_path):
    run_id = start_run(cluster)
    env = env_for(cluster, tmp_path, _NFK8S_COMPLETE=f"complete_{shell.value}")
    env["_TYPER_COMPLETE_ARGS"] = "nfk8s status "
    env["_TYPER_COMPLETE_FISH_ACTION"] = "get-args"
    done = subprocess.run(
        [str(BIN / "nfk8s")], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    assert run_id in done.stdout
    assert "succeeded" in done.stdout or "running" in done.stdout or "pending" in done.stdout


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_with_the_shipped_script(cluster, tmp_path):
    env = env_for(cluster, tmp_path)
    script = ROOT / "completions" / "nfk8s.fish"
    done = subprocess.run(
        ["fish", "--no-config", "-c", f"source {script}; complete -C 'nfk8s lo'"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert sorted(line.split("\t")[0] for line in done.stdout.splitlines()) == ["lock", "logs"]


ZSH_DRIVER = r"""
zmodload zsh/zpty
zpty z 'zsh -f -i'
zpty -w z 'fpath=(FPATH $fpath); autoload -Uz compinit; compinit -u -D; PROMPT="> "'
zpty -wn z $'nfk8s lo\t'
local out all
for i in {1..50}; do
  zpty -r -t z out && all+=$out
  [[ $all == *logs\ \ --* ]] && break
  sleep 0.1
done
print -r -- "$all"
"""


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completes_on_the_first_tab_when_autoloaded(tmp_path):
    subprocess.run(["zsh", "-n", str(ROOT / "completions" / "_nfk8s")], check=True)
    functions = tmp_path / "functions"
    functions.mkdir()
    shutil.copy(ROOT / "completions" / "_nfk8s", functions / "_nfk8s")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp_path)}
    done = subprocess.run(
        ["zsh", "-f", "-c", ZSH_DRIVER.replace("FPATH", str(functions))],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    screen = done.stdout.replace("\r", "")
    assert "logs  -- Print a run's driver log" in screen, screen[-1500:]
    assert "lock  -- Show the run lock" in screen


# -- the cache on its own ---------------------------------------------------------------


def test_cache_serves_within_its_ttl_then_fetches_again(tmp_path):
    now = [1000.0]
    cache = RunCache("k", directory=tmp_path, ttl=5, clock=lambda: now[0])
    calls = []

    def fetch():
        calls.append(now[0])
        return [RunChoice("r1", "running", "p")]

    assert cache.get(fetch) == [RunChoice("r1", "running", "p")]
    now[0] += 4.9
    cache.get(fetch)
    assert len(calls) == 1
    now[0] += 0.2
    cache.get(fetch)
    assert len(calls) == 2
    now[0] -= 100  # a clock that went backwards does not make old data fresh
    cache.get(fetch)
    assert len(calls) == 3


def test_a_damaged_cache_file_is_refetched(tmp_path):
    cache = RunCache("k", directory=tmp_path)
    cache.path.write_text("{not json")
    assert cache.get(lambda: [RunChoice("r1", "failed", "")]) == [RunChoice("r1", "failed", "")]
    assert cache.fresh() == [RunChoice("r1", "failed", "")]


def test_a_stuck_lock_holder_gets_stale_ids_not_a_hang(tmp_path):
    from filelock import FileLock

    now = [0.0]
    cache = RunCache("k", directory=tmp_path, ttl=1, lock_wait=0.2, clock=lambda: now[0])
    cache.write([RunChoice("old", "succeeded", "")])
    now[0] = 10.0
    with FileLock(cache.lock_path):
        # Nothing releases the lock: only the press's own bound can end its wait.
        assert cache.get(lambda: pytest.fail("must not fetch")) == [
            RunChoice("old", "succeeded", "")
        ]


def test_misses_waiting_on_a_listing_use_it_instead_of_listing_again(tmp_path):
    from filelock import FileLock

    now = [0.0]
    checks: list[float] = []

    def clock() -> float:
        checks.append(now[0])
        return now[0]

    def cache() -> RunCache:
        return RunCache("k", directory=tmp_path, ttl=5, lock_wait=600, clock=clock)

    cache().write([RunChoice("old", "succeeded", "")])
    now[0] = 100.0  # that listing has expired: every press misses
    fetched: list[int] = []
    answers: list[list[RunChoice]] = []
    fresh = [RunChoice("new", "running", "")]
    with FileLock(cache().lock_path):  # a listing in progress holds the lock
        checks.clear()
        presses = [
            threading.Thread(
                target=lambda: answers.append(cache().get(lambda: fetched.append(1) or []))
            )
            for _ in range(4)
        ]
        for press in presses:
            press.start()
        # Each press has found the cache stale (one clock reading each) and queues on the lock.
        poll_until(lambda: len(checks) >= 4, timeout=60)
        cache().write(fresh)  # the listing lands
    for press in presses:
        press.join(timeout=60)
    assert fetched == []
    assert answers == [fresh] * 4


def test_cache_key_follows_the_target_and_the_kubeconfig(tmp_path):
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text("a")
    env = {"KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)}
    key = completion.Target().cache_key(env)
    assert completion.Target().cache_key(env) == key
    assert completion.Target(namespace="x").cache_key(env) != key
    assert completion.Target().cache_key({**env, "NFK8S_NAMESPACE": "x"}) != key
    os.utime(kubeconfig, ns=(0, 10**18))  # `kubectl config use-context` rewrites it
    assert completion.Target().cache_key(env) != key
