"""Regenerate the README's reference sections from the code they describe.

    uv run python scripts/readme.py           # rewrite README.md in place
    uv run python scripts/readme.py --check   # exit 1 if README.md is stale (the tests do this)

Each section sits between ``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->``:
``commands`` from the Typer app, ``settings`` from ``nfk8s.settings.Settings``,
``record-schema`` from ``docs/run-record.schema.json``.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SCHEMA = ROOT / "docs" / "run-record.schema.json"
# Options every command takes; the README lists them once.
COMMON = {"context", "namespace", "kubeconfig", "help"}


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _commands(command: Any, ctx: Any) -> Iterator[tuple[Any, Any]]:
    for name in command.list_commands(ctx):
        sub = command.get_command(ctx, name)
        sub_ctx = type(ctx)(sub, info_name=name, parent=ctx)
        yield sub, sub_ctx
        if hasattr(sub, "list_commands"):
            yield from _commands(sub, sub_ctx)


def commands_md() -> str:
    import typer

    from nfk8s.cli import app

    root = typer.main.get_command(app)
    ctx = typer.Context(root, info_name="nfk8s")
    out: list[str] = []
    for command, sub_ctx in _commands(root, ctx):
        pieces = " ".join(command.collect_usage_pieces(sub_ctx))
        out += [f"### `{sub_ctx.command_path} {pieces}`", ""]
        out += [_cell(command.help.strip().split("\n\n")[0]), ""]
        rows = []
        for param in command.get_params(sub_ctx):
            if param.name in COMMON or param.param_type_name == "argument":
                continue
            record = param.get_help_record(sub_ctx)
            if record is not None:
                rows.append(f"| `{record[0]}` | {_cell(record[1])} |")
        if rows:
            out += ["| option | meaning |", "|---|---|", *rows, ""]
        if hasattr(command, "list_commands"):
            subs = ", ".join(f"`{name}`" for name in command.list_commands(sub_ctx))
            out += [f"Subcommands: {subs}.", ""]
    return "\n".join(out).rstrip() + "\n"


def _default(value: Any) -> str:
    return "none" if value is None else f"`{value}`"


def settings_md() -> str:
    from nfk8s.settings import Settings, env_var

    out = ["| setting | environment variable | default | meaning |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        out.append(
            f"| `{name}` | `{env_var(name)}` | {_default(field.default)} | "
            f"{_cell(field.description or '')} |"
        )
    return "\n".join(out) + "\n"


def _type(prop: dict[str, Any]) -> str:
    types = prop.get("type", "any")
    names = [types] if isinstance(types, str) else list(types)
    text = " or ".join(names)
    if "enum" in prop:
        text += ": " + ", ".join(f"`{v}`" for v in prop["enum"])
    if "const" in prop:
        text += f" (`{prop['const']}`)"
    return text


def schema_md() -> str:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    out = ["| field | type | meaning |", "|---|---|---|"]
    for name, prop in schema["properties"].items():
        out.append(f"| `{name}` | {_type(prop)} | {_cell(prop.get('description', ''))} |")
        for sub, sub_prop in (prop.get("properties") or {}).items():
            out.append(f"| `{name}.{sub}` | {_type(sub_prop)} | {_cell(sub_prop['description'])} |")
        for sub, sub_prop in ((prop.get("items") or {}).get("properties") or {}).items():
            out.append(
                f"| `{name}[].{sub}` | {_type(sub_prop)} | {_cell(sub_prop['description'])} |"
            )
        extra = prop.get("additionalProperties")
        if isinstance(extra, dict):
            for sub, sub_prop in extra.get("properties", {}).items():
                out.append(
                    f"| `{name}.<name>.{sub}` | {_type(sub_prop)} | "
                    f"{_cell(sub_prop['description'])} |"
                )
    return "\n".join(out) + "\n"


SECTIONS: dict[str, Callable[[], str]] = {
    "commands": commands_md,
    "settings": settings_md,
    "record-schema": schema_md,
}


def render(text: str) -> str:
    """``text`` with every generated section replaced by what the code says now."""
    for name, make in SECTIONS.items():
        pattern = re.compile(
            rf"(<!-- generated:{name} -->\n).*?(<!-- /generated:{name} -->)", re.DOTALL
        )
        if not pattern.search(text):
            raise SystemExit(f"README.md has no generated:{name} section")
        body = make()
        text = pattern.sub(lambda m, body=body: m.group(1) + "\n" + body + "\n" + m.group(2), text)
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if README.md is stale")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    current = README.read_text(encoding="utf-8")
    fresh = render(current)
    if args.check:
        if fresh != current:
            sys.stdout.writelines(
                difflib.unified_diff(
                    current.splitlines(True), fresh.splitlines(True), "README.md", "generated"
                )
            )
            print("README.md is stale: run `uv run python scripts/readme.py`", file=sys.stderr)
            return 1
        return 0
    if fresh != current:
        README.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
