"""Build the real control plane from Go modules, once per version, into a cache outside the repo.

    uv run python -m tests.realkube.build            # build or reuse; prints the binaries' folder
    uv run python -m tests.realkube.build --update v1.37.3   # move the pin (rewrites go.mod/go.sum)

The wrapper module in ``tests/realkube/go`` pins ``k8s.io/kubernetes`` and lists the commands as
``tool`` lines. ``k8s.io/kubernetes`` requires its staging modules at ``v0.0.0`` and maps them to
``./staging/...`` with ``replace`` lines that only work inside its own repository, so the wrapper
replaces each with its published ``v0.<minor>.<patch>`` tag. Those lines are derived from the
published ``go.mod`` of the pinned version, never written by hand: ``--update`` writes them, and
every build re-derives them and refuses to go on if the committed ones differ.

Binaries land in ``$NFK8S_REALKUBE_CACHE/<version>/`` (default ``~/.cache/nfk8s-realkube``) with a
stamp of the go.mod/go.sum they came from; a build whose stamp matches does nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODULE_DIR = Path(__file__).resolve().parent / "go"
KUBERNETES = "k8s.io/kubernetes"
ETCD = "go.etcd.io/etcd/server/v3"
# Binary name -> package path.
COMMANDS = {
    "kube-apiserver": f"{KUBERNETES}/cmd/kube-apiserver",
    "kube-controller-manager": f"{KUBERNETES}/cmd/kube-controller-manager",
    "kube-scheduler": f"{KUBERNETES}/cmd/kube-scheduler",
    "kubectl": f"{KUBERNETES}/cmd/kubectl",
    "etcd": ETCD,
}
STAMP = ".built-from"
_STAGING = re.compile(r"^\s*(k8s\.io/[A-Za-z0-9._-]+)\s+=>\s+\./staging/", re.MULTILINE)


class BuildError(RuntimeError):
    pass


def say(message: str) -> None:
    print(f"realkube: {message}", file=sys.stderr, flush=True)


def pinned_version(module_dir: Path = MODULE_DIR) -> str:
    """The ``k8s.io/kubernetes`` version that go.mod requires."""
    text = (module_dir / "go.mod").read_text()
    m = re.search(rf"^\s*(?:require\s+)?{re.escape(KUBERNETES)}\s+(v\S+)", text, re.MULTILINE)
    if not m:
        raise BuildError(f"{module_dir / 'go.mod'} does not require {KUBERNETES}")
    return m.group(1)


def cache_root() -> Path:
    env = os.environ.get("NFK8S_REALKUBE_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nfk8s-realkube"


def bin_dir(version: str | None = None) -> Path:
    return cache_root() / (version or pinned_version())


def go_binary() -> str | None:
    return shutil.which("go")


def _go(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    go = go_binary()
    if go is None:
        raise BuildError("the go command is not on PATH (install Go 1.26 or newer)")
    proc = subprocess.run(
        [go, *args], cwd=cwd, env=env or _go_env(), capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise BuildError(f"go {' '.join(args)} failed:\n{proc.stderr.strip()}")
    return proc.stdout


def _go_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("CGO_ENABLED", "0")
    env.update(extra)
    return env


def staging_replaces(version: str) -> dict[str, str]:
    """``{module: module@v0.X.Y}`` for every staging module of ``k8s.io/kubernetes@version``."""
    m = re.fullmatch(r"v1\.(\d+)\.(\d+)(.*)", version)
    if not m:
        raise BuildError(f"unexpected {KUBERNETES} version {version!r}")
    staging_tag = f"v0.{m.group(1)}.{m.group(2)}{m.group(3)}"
    with tempfile.TemporaryDirectory(prefix="realkube-mod-") as tmp:
        # Outside any module, `go mod download` fetches the module and says where its go.mod is.
        out = _go("mod", "download", "-json", f"{KUBERNETES}@{version}", cwd=Path(tmp))
    gomod = Path(json.loads(out)["GoMod"]).read_text()
    modules = _STAGING.findall(gomod)
    if not modules:
        raise BuildError(f"no staging replace lines in the published go.mod of {version}")
    return {mod: f"{mod}@{staging_tag}" for mod in modules}


def committed_replaces(module_dir: Path = MODULE_DIR) -> dict[str, str]:
    doc = json.loads(_go("mod", "edit", "-json", cwd=module_dir))
    return {
        r["Old"]["Path"]: f"{r['New']['Path']}@{r['New'].get('Version', '')}"
        for r in doc.get("Replace") or []
    }


def ldflags(version: str, build_date: str) -> str:
    """Version stamps, as ``hack/lib/version.sh`` sets them, so /version tells the truth."""
    m = re.fullmatch(r"v(\d+)\.(\d+)\..*", version)
    major, minor = (m.group(1), m.group(2)) if m else ("", "")
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={version}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
            f"-X {pkg}.buildDate={build_date}",
        ]
    return " ".join(flags)


def _release_time(version: str) -> str:
    with tempfile.TemporaryDirectory(prefix="realkube-mod-") as tmp:
        out = _go("mod", "download", "-json", f"{KUBERNETES}@{version}", cwd=Path(tmp))
    info = json.loads(Path(json.loads(out)["Info"]).read_text())
    return str(info.get("Time") or "1970-01-01T00:00:00Z")


def module_digest(module_dir: Path = MODULE_DIR) -> str:
    h = hashlib.sha256()
    for name in ("go.mod", "go.sum"):
        h.update((module_dir / name).read_bytes())
    return h.hexdigest()


def is_built(version: str | None = None, module_dir: Path = MODULE_DIR) -> bool:
    out = bin_dir(version)
    stamp = out / STAMP
    return (
        stamp.is_file()
        and stamp.read_text().strip() == module_digest(module_dir)
        and all((out / name).is_file() for name in COMMANDS)
    )


def build(module_dir: Path = MODULE_DIR, *, force: bool = False) -> Path:
    """Build (or reuse) the binaries; return their folder."""
    version = pinned_version(module_dir)
    out = bin_dir(version)
    if not force and is_built(version, module_dir):
        say(f"{KUBERNETES} {version}: cached binaries in {out}")
        return out
    say(f"{KUBERNETES} {version}: deriving staging replace lines from its published go.mod")
    want = staging_replaces(version)
    have = committed_replaces(module_dir)
    if want != have:
        raise BuildError(
            "tests/realkube/go/go.mod's replace lines differ from those derived from "
            f"{KUBERNETES}@{version}; run: python -m tests.realkube.build --update {version}"
        )
    out.mkdir(parents=True, exist_ok=True)
    flags = ldflags(version, _release_time(version))
    started = time.monotonic()
    tmp_out = Path(tempfile.mkdtemp(prefix=".partial-", dir=out))
    try:
        for name, pkg in COMMANDS.items():
            say(f"go build {pkg} -> {out / name}")
            t0 = time.monotonic()
            _go(
                "build",
                "-mod=readonly",
                "-trimpath",
                "-ldflags",
                flags,
                "-o",
                str(tmp_out / name),
                pkg,
                cwd=module_dir,
            )
            say(f"  built in {time.monotonic() - t0:.0f}s")
        for name in COMMANDS:
            (tmp_out / name).replace(out / name)
        (out / STAMP).write_text(module_digest(module_dir) + "\n")
    finally:
        shutil.rmtree(tmp_out, ignore_errors=True)
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    took = time.monotonic() - started
    say(f"built {len(COMMANDS)} binaries in {took:.0f}s, {size / 2**20:.0f} MiB")
    return out


def update(version: str, module_dir: Path = MODULE_DIR) -> None:
    """Move the pin: rewrite go.mod's require, replace and tool lines, then go.sum."""
    replaces = staging_replaces(version)
    gomod = module_dir / "go.mod"
    gomod.write_text(f"module nfk8s.test/realkube\n\ngo 1.26.0\n\nrequire {KUBERNETES} {version}\n")
    (module_dir / "go.sum").unlink(missing_ok=True)
    _go("mod", "edit", *(f"-replace={k}={v}" for k, v in sorted(replaces.items())), cwd=module_dir)
    published = Path(
        json.loads(
            _go(
                "mod",
                "download",
                "-json",
                f"{KUBERNETES}@{version}",
                cwd=Path(tempfile.gettempdir()),
            )
        )["GoMod"]
    ).read_text()
    # etcd: the server of the line that k8s.io/kubernetes itself selects.
    m = re.search(rf"^\s*{re.escape(ETCD)}\s+(v\S+)", published, re.MULTILINE)
    etcd_version = m.group(1) if m else "latest"
    pkgs = [f"{p}@{version}" for n, p in COMMANDS.items() if n != "etcd"]
    _go(
        "get",
        "-tool",
        *pkgs,
        f"{ETCD}@{etcd_version}",
        cwd=module_dir,
        env=_go_env(GOFLAGS="-mod=mod"),
    )
    say(f"pinned {KUBERNETES} {version} and {ETCD} {etcd_version} in {gomod}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.realkube.build", description=__doc__)
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    parser.add_argument("--update", metavar="VERSION", help="pin another k8s.io/kubernetes")
    parser.add_argument("--print-dir", action="store_true", help="print the binaries' folder only")
    args = parser.parse_args(argv)
    try:
        if args.print_dir:
            print(bin_dir())
            return 0
        if args.update:
            update(args.update)
        print(build(force=args.force))
    except BuildError as e:
        print(f"realkube: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
