"""The README's reference parts say what the code does."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from nfk8s.errors import ExitCode

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SOURCE = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "src" / "nfk8s").glob("*.py"))


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.DOTALL | re.MULTILINE)
    assert match, f"no section {title!r}"
    return match.group(1)


def test_generated_tables_are_current():
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "readme.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_settings_table_has_every_setting_with_its_default():
    from nfk8s.settings import Settings

    table = section("Settings")
    for name, field in Settings.model_fields.items():
        assert f"| `{name}` | `NFK8S_{name.upper()}` |" in table
        assert field.description, f"{name} has no docstring"


def test_the_exit_code_table_is_the_exit_code_enum():
    rows = re.findall(r"^\| (\d+) \| ", section("Exit codes"), re.MULTILINE)
    assert sorted(int(code) for code in rows) == sorted(int(code) for code in ExitCode)


def test_every_command_is_in_the_reference():
    import typer

    from nfk8s.cli import app

    root = typer.main.get_command(app)
    commands = section("Commands")
    for name in root.commands:
        assert f"### `nfk8s {name} " in commands, name


def test_troubleshooting_quotes_messages_nfk8s_prints():
    rows = re.findall(r"^\| `([^`]+)`", section("Troubleshooting"), re.MULTILINE)
    assert len(rows) >= 15
    placeholder = re.compile(r"'?\b[A-Z]{1,6}\b'?|\d+|\.\.\.|…")
    for message in rows:
        fragments = [f.strip() for f in placeholder.split(message) if len(f.strip()) >= 6]
        assert fragments, message
        for fragment in fragments:
            # A line built from parts (the run's summary) is matched part by part.
            parts = [p.strip() for p in re.split(r"[():,]", fragment) if len(p.strip()) >= 4]
            assert fragment in SOURCE or all(
                p in SOURCE or all(w in SOURCE for w in p.split()) for p in parts
            ), f"{fragment!r} (from {message!r}) is not printed by nfk8s"
