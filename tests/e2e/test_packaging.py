"""The wheel: one version, the completion scripts where shells look, a working entry point."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from nfk8s import __version__
from nfk8s.completion import INSTALL_DIRS, SCRIPT_FILES, Shell

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
BASH_COMPLETION = Path("/usr/share/bash-completion/bash_completion")


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        ["uv", "build", "--out-dir", str(out)], cwd=ROOT, check=True, capture_output=True, text=True
    )
    return out


def test_the_wheel_carries_the_version_and_the_completion_scripts(dist):
    (wheel,) = dist.glob("*.whl")
    assert wheel.name.startswith(f"nfk8s-{__version__}-py3-none-any")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = zf.read(f"nfk8s-{__version__}.dist-info/METADATA").decode()
        for shell in Shell:
            member = f"nfk8s-{__version__}.data/data/{INSTALL_DIRS[shell]}"
            assert member in names, member
            shipped = (ROOT / "completions" / SCRIPT_FILES[shell]).read_bytes()
            assert zf.read(member) == shipped
        entry_points = zf.read(f"nfk8s-{__version__}.dist-info/entry_points.txt").decode()
    assert f"Version: {__version__}\n" in metadata
    assert "nfk8s = nfk8s.__main__:main" in entry_points
    assert not any(n.startswith(("tests/", "scripts/")) for n in names)
    (sdist,) = dist.glob("*.tar.gz")
    assert sdist.name == f"nfk8s-{__version__}.tar.gz"


def test_installed_wheel_completes_in_bash_from_its_share_directory(dist, tmp_path):
    venv = tmp_path / "venv"
    python = os.path.realpath(sys.executable)
    subprocess.run(["uv", "venv", "--python", python, str(venv)], check=True, capture_output=True)
    (wheel,) = dist.glob("*.whl")
    subprocess.run(
        ["uv", "pip", "install", "--python", str(venv / "bin" / "python"), str(wheel)],
        check=True,
        capture_output=True,
    )
    for shell in Shell:
        assert (venv / INSTALL_DIRS[shell]).is_file(), INSTALL_DIRS[shell]
    env = {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        # Where a system-wide install's share/ is: bash-completion looks there by itself.
        "XDG_DATA_DIRS": f"{venv / 'share'}:/usr/share",
    }
    version = subprocess.run(
        ["nfk8s", "--version"], env=env, capture_output=True, text=True, check=True
    )
    assert version.stdout == f"nfk8s {__version__}\n"
    if BASH_COMPLETION.exists():
        load = f"source {BASH_COMPLETION}; _completion_loader nfk8s"
    else:
        load = f"source {venv / INSTALL_DIRS[Shell.bash]}"
    for line, expected in (("nfk8s lo", ["lock", "logs"]), ("nfk8s completion f", ["fish"])):
        words = line.split(" ")
        program = f"""
{load}
complete -p nfk8s >/dev/null || exit 3
COMP_WORDS=({" ".join(shlex.quote(w) for w in words)}); COMP_CWORD={len(words) - 1}
_nfk8s_completion nfk8s {shlex.quote(words[-1])} {shlex.quote(words[-2])}
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-c", program],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert sorted(done.stdout.split()) == expected, done.stderr
