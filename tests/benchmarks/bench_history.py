"""`nfk8s history -o json` over 1,000 records vs kubectl and the floor, on one fake server.

The floor is a Python process that imports what nfk8s's history path imports from its
runtime dependencies (Typer, pydantic-settings, the ``kubernetes`` client) and makes the
same paginated list request raw, through the client's ``ApiClient``, printing the items
as indented JSON. nfk8s's own cost is what it adds on top: its modules, settings,
decoding the records, reconciliation checks and rendering.

For scale, a "bare" line does the same request with only urllib3 and PyYAML (no
``kubernetes``, Typer or pydantic), and ``python -c pass`` is the interpreter alone.

Bytecode is cached (in a temporary ``PYTHONPYCACHEPREFIX``), as for an installed package,
and the commands run interleaved so background noise hits them alike.

    uv run python -m tests.benchmarks.bench_history [--runs N] [--records N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

SELECTOR = "app.kubernetes.io/managed-by=nfk8s"

FLOOR = textwrap.dedent(
    f"""
    import json, sys
    import typer, pydantic_settings  # what nfk8s's history path imports besides the client
    from kubernetes import client, config

    api = config.new_client_from_config()
    path = "/api/v1/namespaces/default/configmaps"
    items, token = [], None
    while True:
        query = [("labelSelector", "{SELECTOR}"), ("limit", "500")]
        if token:
            query.append(("continue", token))
        method, url, headers, body, _ = api.param_serialize(
            "GET", path, query_params=query, header_params={{"Accept": "application/json"}},
            auth_settings=["BearerToken"],
        )
        page = json.loads(api.call_api(method, url, header_params=headers).response.data)
        items += page["items"]
        token = page["metadata"].get("continue")
        if not token:
            break
    sys.stdout.write(json.dumps({{"items": items}}, indent=2) + "\\n")
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


def tool(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def timed(argv: Sequence[str], env: dict[str, str]) -> float:
    """Wall seconds of one run (output discarded)."""
    start = time.perf_counter()
    subprocess.run(list(argv), env=env, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def median_ms(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1000


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def environment(kubeconfig: Path, pycache: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NFK8S_", "KUBE")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(
        KUBECONFIG=str(kubeconfig),
        NFK8S_CONFIG=os.devnull,
        NO_COLOR="1",
        PYTHONPYCACHEPREFIX=str(pycache),
    )
    return env


def items_printed(argv: list[str], env: dict[str, str]) -> int:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    return len(json.loads(done.stdout)["items"])


def import_costs(env: dict[str, str]) -> list[tuple[str, float]]:
    """Import time (ms) of `nfk8s history` by top-level package, each module's own share."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "nfk8s", "history", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    costs: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        own, _, name = line.removeprefix("import time:").split("|")
        try:
            us = float(own)
        except ValueError:
            continue  # the header line
        package = name.strip().split(".")[0].lstrip("_") or "?"
        costs[package] = costs.get(package, 0.0) + us / 1000
    return sorted(costs.items(), key=lambda kv: -kv[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--records", type=int, default=1000)
    args = parser.parse_args()

    from tests.admin.helpers import seed_history
    from tests.fakekube import FakeKube
    from tests.support import provision

    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        with FakeKube(kubeconfig=kubeconfig) as fk:
            provision(fk)
            seed_history(fk, args.records)
            env = environment(kubeconfig, Path(tmp) / "pycache")
            commands = {
                "`python -c pass`": [sys.executable, "-c", "pass"],
                "bare: urllib3 + PyYAML, raw list": [sys.executable, "-c", BARE],
                "**floor**: runtime deps + raw list via `ApiClient`": [
                    sys.executable,
                    "-c",
                    FLOOR,
                ],
                "**`nfk8s history -o json`**": [tool("nfk8s"), "history", "-o", "json"],
                f"`kubectl get configmaps -l {SELECTOR} -o json`": [
                    tool("kubectl"),
                    "--cache-dir",
                    str(Path(tmp) / "kubectl-cache"),
                    "get",
                    "configmaps",
                    "-l",
                    SELECTOR,
                    "-o",
                    "json",
                ],
            }
            for name, argv in commands.items():
                if name != "`python -c pass`":
                    count = items_printed(argv, env)  # also warms caches and bytecode
                    assert count == args.records, (name, count)
            samples: dict[str, list[float]] = {name: [] for name in commands}
            for _ in range(args.runs):
                for name, argv in commands.items():
                    samples[name].append(timed(argv, env))
            costs = import_costs(env)

    results = {name: median_ms(values) for name, values in samples.items()}
    floor = results["**floor**: runtime deps + raw list via `ApiClient`"]
    kubectl = next(v for k, v in results.items() if k.startswith("`kubectl"))
    rows = [
        (name, f"{ms:.0f}", f"{ms / floor:.2f}×", f"{ms / kubectl:.2f}×")
        for name, ms in results.items()
    ]
    print(
        f"History over {args.records} records, median of {args.runs} interleaved runs "
        f"({machine()})\n"
    )
    print(table(["command", "median ms", "vs floor", "vs kubectl"], rows))
    total = sum(ms for _, ms in costs)
    print(
        f"\nImports of `nfk8s history -o json` (one run, {total:.0f} ms in all), by top-level "
        "package, each module counted once:\n"
    )
    print(table(["package", "ms"], [(p, f"{ms:.0f}") for p, ms in costs[:12]]))


if __name__ == "__main__":
    main()
