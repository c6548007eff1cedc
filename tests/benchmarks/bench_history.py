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
    server = kubeconfig["clusters"][0]["cluster"]["server"]
    token = kubeconfig["users"][0]["user"].get("token")
    http = urllib3.PoolManager()
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


def seed(fk: Any, records: int) -> None:
    from tests.admin.helpers import running_task_pods, seed_history, submit

    seed_history(fk, records)
    submit(fk, "sim/slow", run_id=ACTIVE)
    running_task_pods(fk, ACTIVE, at_least=3)


def bench(runs: int = RUNS, quick: bool = False, records: int = RECORDS) -> list[Section]:
    from tests.fakekube import FakeKube
    from tests.support import provision

    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        with FakeKube(kubeconfig=kubeconfig, speed=1) as fk:
            provision(fk)
            seed(fk, records)
            env = bench_env(kubeconfig, Path(tmp) / "pycache")
            kubectl = [tool("kubectl"), "--cache-dir", str(Path(tmp) / "kubectl-cache")]
            history = ["history", "-o", "json"]
            status = ["status", "-o", "json"]
            subprocess.run([tool("nfk8s"), *status], env=env, check=True, capture_output=True)
            script = Path(tmp) / "kubectl-status.sh"
            script.write_text(
                f"{' '.join(kubectl)} get lease/nfk8s-lock configmap/nfk8s-run-{ACTIVE} "
                f"job/nfk8s-{ACTIVE} -o json && {' '.join(kubectl)} get pods -o json\n"
            )
            groups = {
                "history": {
                    "`python -c pass`": [sys.executable, "-c", "pass"],
                    "bare: urllib3 + PyYAML, raw list": [sys.executable, "-c", BARE],
                    "**floor**: runtime deps + the same requests raw": floor_command(
                        runtime_imports(history, env), requests_of(fk, history, env)
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
                        runtime_imports(status, env), requests_of(fk, status, env)
                    ),
                    "**`nfk8s status -o json`**": [tool("nfk8s"), *status],
                    "`nfk8s status` (table)": [tool("nfk8s"), "status"],
                    "`kubectl get` lease, record, Job by name + `kubectl get pods`": [
                        "sh",
                        str(script),
                    ],
                },
            }
            for commands in groups.values():
                for argv in commands.values():
                    timed(argv, env)  # warms caches and bytecode, and checks it works
            samples = {g: {name: [] for name in c} for g, c in groups.items()}
            for _ in range(runs):
                for group, commands in groups.items():
                    for name, argv in commands.items():
                        samples[group][name].append(timed(argv, env))
            counts = {
                "history": len(requests_of(fk, history, env)),
                "status": len(requests_of(fk, status, env)),
            }
    sections = []
    for group, by_name in samples.items():
        results = {name: median_ms(values) for name, values in by_name.items()}
        floor = next(v for k, v in results.items() if k.startswith("**floor**"))
        kubectl_ms = next(v for k, v in results.items() if "kubectl" in k)
        rows = [
            [name, f"{ms:.0f}", ratio(ms, floor), ratio(ms, kubectl_ms)]
            for name, ms in results.items()
        ]
        what = (
            f"over {records:,} records"
            if group == "history"
            else "of the active run (3 tasks running)"
        )
        sections.append(
            Section(
                f"`{group}` {what}, median of {runs} interleaved runs",
                ["command", "median ms", "vs floor", "vs kubectl"],
                rows,
                [f"`nfk8s {group} -o json` makes {counts[group]} GET requests."],
            )
        )
    return sections


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--records", type=int, default=RECORDS)
    args = parser.parse_args()
    print_sections(bench(args.runs, records=args.records))


if __name__ == "__main__":
    main()
