"""The README's Reliability section names the suites that exist, with their counts."""

from __future__ import annotations

import ast
import re
from pathlib import Path

HERE = Path(__file__).parent
README = (HERE.parents[1] / "README.md").read_text(encoding="utf-8")


def listed() -> set[str]:
    match = re.search(r"^## Reliability\n(.*?)(?=^## )", README, re.DOTALL | re.MULTILINE)
    assert match, "the README has no Reliability section"
    return set(re.findall(r"`(test_\w+)`", match.group(1)))


def defined() -> set[str]:
    names = set()
    for path in HERE.glob("test_*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                names.add(node.name)
    return names


def test_the_readme_lists_every_counted_suite_by_its_name():
    counted = {name for name in defined() if re.search(r"_\d+_", name)}
    assert listed() <= defined(), listed() - defined()
    assert counted <= listed(), counted - listed()
