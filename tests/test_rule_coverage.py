"""The catalog, the implementation and the README name exactly the same rule codes."""

from __future__ import annotations

import re

from famfs_xml.lint.catalog import load_catalog
from famfs_xml.lint.checks import implemented_codes
from tests.conftest import REPO


def lint_codes_in_catalog() -> set[str]:
    return {code for code in load_catalog() if code.startswith("FX")}


def test_every_catalog_rule_is_implemented_and_nothing_else() -> None:
    assert implemented_codes() == lint_codes_in_catalog()


def test_readme_rule_table_matches_the_catalog() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    rows = re.findall(
        r"^\| (FX\d{3}) \| ([a-z0-9-]+) \| (\w+) \| *(\[\*\]|\[!\])? *\|$", readme, re.MULTILINE
    )
    catalog = load_catalog()
    assert {code for code, *_ in rows} == lint_codes_in_catalog()
    marks = {"safe": "[*]", "unsafe": "[!]", "none": ""}
    for code, name, severity, mark in rows:
        rule = catalog[code]
        assert (name, severity, mark) == (rule.name, rule.severity.label, marks[rule.fix.value])


def test_every_rule_has_documentation_and_examples() -> None:
    for code, rule in load_catalog().items():
        assert rule.summary and rule.explanation, code
        if code.startswith("FX"):
            assert rule.example is not None, code
            assert (rule.example.fixed is not None) == (rule.fix.value != "none"), code
