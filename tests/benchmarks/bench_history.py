"""`nfk8s status` and `nfk8s history -o json` vs kubectl and the floor, on one fake server.

The server holds 1,000 finished run records and one active run (three task pods running).

The **floor** of a command is a Python process that imports what that command imports
from nfk8s's runtime dependencies (found with ``python -X importtime``) and makes the
same requests raw - the ones the fake's request log shows the command made - through the
client's ``ApiClient``, printing what it got as indented JSON. nfk8s's own cost is what
it adds on top: its modules, settings, decoding records, reconciliation and rendering.

The kubectl lines get the same information the way a user would: one ``kubectl get`` of
the record ConfigMaps for history; for status, the lock, record and Job by name plus the
pods. A "bare" line lists the records with only urllib3 and PyYAML, for scale.

Commands run interleaved so background noise hits them alike.

    uv run python -m tests.benchmarks.bench_history [--runs N] [--records N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from tests.benchmarks.common import (
    Section,
    bench_env,
    median_ms,
    print_sections,
    ratio,
    timed,
    tool,
)

RUNS = 9
RECORDS = 1000
SELECTOR = "app.kubernetes.io/managed-by=nfk8s"
ACTIVE = "active"
# Runtime dependencies whose import a floor repeats, when the command imports them.
RUNTIME_PACKAGES = ("typer", "rich", "pydantic_settings", "filelock", "yaml", "kubernetes")

# Replays (path, query, accept) requests with the client's ApiClient; a list that pages
# is followed to its end, as the command did.
FLOOR = textwrap.dedent(
    """
    import json, sys
    {imports}
    from kubernetes import config

    api = config.new_client_from_config()
    out = []
    for path, query, accept in json.loads(sys.argv[1]):
        token = None
        while True:
            q = query + ([["continue", token]] if token else [])
            method, url, headers, body, _ = api.param_serialize(
                "GET", path, query_params=[tuple(p) for p in q] or None,
                header_params={{"Accept": accept}}, auth_settings=["BearerToken"],
            )
            data = api.call_api(method, url, header_params=headers).response.data
            if accept != "application/json":
                out.append(data.decode("utf-8", "replace"))
                break
            page = json.loads(data)
            out.append(page)
            token = (page.get("metadata") or {{}}).get("continue")
            if not token:
                break
    sys.stdout.write(json.dumps(out, indent=2) + "\\n")
    """
)

BARE = textwrap.dedent(
    f"""
    import json, os, sys
    import urllib3, yaml

    kubeconfig = yaml.safe_load(open(os.environ["KUBECONFIG"]))
    cluster = kubeconfig["clusters"][0]["cluster"]
    server = cluster["server"]
    token = kubeconfig["users"][0]["user"].get("token")
    http = urllib3.PoolManager(ca_certs=cluster.get("certificate-authority"))
    headers = {{"Accept": "application/json"}}
    if token:
        headers["Authorization"] = "Bearer " + token
    items, cont = [], None
    while True:
        fields = {{"labelSelector": "{SELECTOR}", "limit": "500"}}
        if cont:
            fields["continue"] = cont
        url = server + "/api/v1/namespaces/default/configmaps"
        page = json.loads(http.request("GET", url, fields=fields, headers=headers).data)
        items += page["items"]
        cont = page["metadata"].get("continue")
        if not cont:
            break
    sys.stdout.write(json.dumps({{"items": items}}, indent=2) + "\\n")
    """
)


def runtime_imports(argv: list[str], env: dict[str, str]) -> list[str]:
    """Which of nfk8s's runtime dependencies ``nfk8s ARGV`` imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "nfk8s", *argv],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return [p for p in RUNTIME_PACKAGES if p in names]


def requests_of(fk: Any, argv: list[str], env: dict[str, str]) -> list[list[Any]]:
    """The GETs ``nfk8s ARGV`` makes, as (path, query, accept) for the floor to replay."""
    fk.requests.clear()
    subprocess.run([tool("nfk8s"), *argv], env=env, stdout=subprocess.DEVNULL, check=True)
    replay = []
    for r in fk.requests.all():
        if r.method != "GET" or "continue" in r.query or r.query.get("watch"):
            continue
        query = [[k, v] for k, v in r.query.items()]
        replay.append([r.path, query, "*/*" if r.subresource == "log" else "application/json"])
    return replay


def floor_command(imports: list[str], replay: list[list[Any]]) -> list[str]:
    lines = "\n".join(f"import {name}" for name in imports)
    return [sys.executable, "-c", FLOOR.format(imports=lines), json.dumps(replay)]


def seed(cluster: Any, records: int) -> None:
    from tests.admin.helpers import running_task_pods, seed_history, submit

    seed_history(cluster, records)
    submit(cluster, "sim/slow", run_id=ACTIVE)
    running_task_pods(cluster, ACTIVE, at_least=3)


def command_groups(
    env: dict[str, str], tmp: Path, replay: dict[str, list[list[Any]]]
) -> dict[str, dict[str, list[str]]]:
    """What is timed, by group; ``replay`` holds the requests each floor makes."""
    kubectl = [tool("kubectl"), "--cache-dir", str(tmp / "kubectl-cache")]
    history = ["history", "-o", "json"]
    status = ["status", "-o", "json"]
    script = tmp / "kubectl-status.sh"
    script.write_text(
        f"{' '.join(kubectl)} get lease/nfk8s-lock configmap/nfk8s-run-{ACTIVE} "
        f"job/nfk8s-{ACTIVE} -o json && {' '.join(kubectl)} get pods -o json\n"
    )
    return {
        "history": {
            "`python -c pass`": [sys.executable, "-c", "pass"],
            "bare: urllib3 + PyYAML, raw list": [sys.executable, "-c", BARE],
            "**floor**: runtime deps + the same requests raw": floor_command(
                runtime_imports(history, env), replay["history"]
            ),
            "**`nfk8s history -o json`**": [tool("nfk8s"), *history],
            "`nfk8s history` (table)": [tool("nfk8s"), "history"],
            f"`kubectl get configmaps -l {SELECTOR} -o json`": [
                *kubectl,
                *("get", "configmaps", "-l", SELECTOR, "-o", "json"),
            ],
        },
        "status": {
            "`python -c pass`": [sys.executable, "-c", "pass"],
            "**floor**: runtime deps + the same requests raw": floor_command(
                runtime_imports(status, env), replay["status"]
            ),
            "**`nfk8s status -o json`**": [tool("nfk8s"), *status],
            "`nfk8s status` (table)": [tool("nfk8s"), "status"],
            "`kubectl get` lease, record, Job by name + `kubectl get pods`": ["sh", str(script)],
        },
    }


def bench(runs: int = RUNS, quick: bool = False, records: int = RECORDS) -> list[Section]:
    """Each command on the fake and on the real control plane, interleaved in one run.

    The floor replays the GETs the fake's request log saw nfk8s make; both servers hold the
    same records and active run in namespace ``default``, so the requests are the same.
    """
    from tests.fakekube import FakeKube
    from tests.realkube import RealKube, build
    from tests.support import provision

    backends = ["fake", "real"] if build.is_built() else ["fake"]
    samples: dict[str, dict[str, dict[str, list[float]]]] = {}
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        fake_tmp, real_tmp = tmp / "fake", tmp / "real"
        fake_tmp.mkdir()
        real_tmp.mkdir()
        with contextlib.ExitStack() as stack:
            fk = stack.enter_context(FakeKube(kubeconfig=fake_tmp / "kubeconfig", speed=1))
            provision(fk)
            seed(fk, records)
            envs = {"fake": bench_env(fk.kubeconfig, fake_tmp / "pycache")}
            subprocess.run(
                [tool("nfk8s"), "status", "-o", "json"],
                env=envs["fake"],
                check=True,
                capture_output=True,
            )
            replay = {
                group: requests_of(fk, [group, "-o", "json"], envs["fake"])
                for group in ("history", "status")
            }
            counts = {group: len(r) for group, r in replay.items()}
            groups = {"fake": command_groups(envs["fake"], fake_tmp, replay)}
            if "real" in backends:
                rk = stack.enter_context(RealKube(kubeconfig=real_tmp / "kubeconfig", speed=1))
                seed(_RealSeed(rk), records)
                envs["real"] = bench_env(rk.kubeconfig, real_tmp / "pycache")
                groups["real"] = command_groups(envs["real"], real_tmp, replay)
            for backend in backends:
                for commands in groups[backend].values():
                    for argv in commands.values():
                        timed(argv, envs[backend])  # warms caches and checks it works
            for backend in backends:
                samples[backend] = {g: {name: [] for name in c} for g, c in groups[backend].items()}
            for _ in range(runs):
                for backend in backends:
                    for group, commands in groups[backend].items():
                        for name, argv in commands.items():
                            samples[backend][group][name].append(timed(argv, envs[backend]))
    sections = []
    for group in ("history", "status"):
        medians = {
            b: {name: median_ms(v) for name, v in samples[b][group].items()} for b in backends
        }
        floor = {
            b: next(v for k, v in medians[b].items() if k.startswith("**floor**")) for b in backends
        }
        kube = {b: next(v for k, v in medians[b].items() if "kubectl" in k) for b in backends}
        header = ["command", "fake ms", "vs floor", "vs kubectl"]
        if "real" in backends:
            header += ["real ms", "vs floor", "vs kubectl"]
        rows = []
        for name in medians["fake"]:
            row = [name]
            for b in backends:
                ms = medians[b][name]
                row += [f"{ms:.0f}", ratio(ms, floor[b]), ratio(ms, kube[b])]
            rows.append(row)
        what = (
            f"over {records:,} records"
            if group == "history"
            else "of the active run (3 tasks running)"
        )
        notes = [f"`nfk8s {group} -o json` makes {counts[group]} GET requests."]
        if "real" in backends:
            notes.append(
                "fake: `tests/fakekube`; real: kube-apiserver v1.37.2 with etcd "
                "(`tests/realkube`), over TLS as a restricted user, same records."
            )
        sections.append(
            Section(
                f"`{group}` {what}, median of {runs} interleaved runs",
                header,
                rows,
                notes,
            )
        )
    return sections


class _RealSeed:
    """The real control plane with the attributes the seeding helpers use."""

    def __init__(self, rk: Any) -> None:
        self.rk = rk
        self.api = rk.admin
        self.namespace = rk.namespace
        self.kubeconfig = rk.kubeconfig

    def wait_for(self, predicate: Any, timeout: float = 10.0, **kw: Any) -> Any:
        return self.rk.wait_for(predicate, timeout=max(timeout * 4, 60.0), **kw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--records", type=int, default=RECORDS)
    args = parser.parse_args()
    print_sections(bench(args.runs, records=args.records))


if __name__ == "__main__":
    main()
