"""Every rule catalog entry is well-formed, and its examples behave as the entry says."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from famfs_xml.api import fix_text, lint_text
from famfs_xml.core.inventory import Inventory
from famfs_xml.lint.checks import implemented_codes
from famfs_xml.lint.libvirt_schema import find_schema

ROOT = Path(__file__).resolve().parent.parent
RULE_FILES = sorted((ROOT / "rules").glob("FX*.toml"))
IDS = [path.stem for path in RULE_FILES]

REQUIRED: dict[str, type] = {
    "code": str,
    "name": str,
    "severity": str,
    "fix": str,
    "tags": list,
    "summary": str,
    "explanation": str,
    "example": dict,
}


def _load(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


CATALOG: dict[str, dict[str, Any]] = {path.stem: _load(path) for path in RULE_FILES}


def test_catalog_is_not_empty() -> None:
    assert RULE_FILES


@pytest.mark.parametrize("code", IDS)
def test_entry_keys_and_types(code: str) -> None:
    entry = CATALOG[code]
    for key, kind in REQUIRED.items():
        assert key in entry, f"{code}: missing {key}"
        assert isinstance(entry[key], kind), f"{code}: {key} is not a {kind.__name__}"
    assert entry["code"] == code
    assert re.fullmatch(r"FX\d{3}", entry["code"])
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", entry["name"])
    assert entry["severity"] in {"error", "warning", "info"}
    assert entry["fix"] in {"safe", "unsafe", "none"}
    assert entry["tags"] and all(tag in {"libvirt", "famfs"} for tag in entry["tags"])
    assert entry["summary"].strip() and "\n" not in entry["summary"]
    assert entry["explanation"].strip()

    example = entry["example"]
    assert isinstance(example.get("bad"), str) and example["bad"].strip()
    assert isinstance(example.get("good"), str) and example["good"].strip()
    if entry["fix"] == "none":
        assert "fixed" not in example, f"{code}: a rule without a fix has no fixed example"
    else:
        assert isinstance(example.get("fixed"), str), f"{code}: fixable rule needs fixed"
    if "inventory" in example:
        assert isinstance(example["inventory"], str)
    if "peers" in example:
        assert isinstance(example["peers"], list)
        assert all(isinstance(peer, str) for peer in example["peers"])


def test_names_are_unique() -> None:
    names = [entry["name"] for entry in CATALOG.values()]
    assert len(names) == len(set(names))


# --- the examples, run through the engine -------------------------------------------------

FIXABLE = [code for code in IDS if CATALOG[code]["fix"] != "none"]


def _facts(example: dict[str, Any]) -> Inventory | None:
    inventory = example.get("inventory")
    return Inventory.from_json_text(inventory) if inventory is not None else None


def _codes(findings: list[Any]) -> list[str]:
    return sorted(finding.code for finding in findings)


def test_catalog_codes_are_the_implemented_codes() -> None:
    assert set(CATALOG) == set(implemented_codes())


@pytest.mark.parametrize("code", IDS)
def test_bad_example_fires_the_rule(code: str) -> None:
    example = CATALOG[code]["example"]
    findings = lint_text(
        example["bad"], select=[code], facts=_facts(example), peers=example.get("peers", ())
    )
    assert code in _codes(findings)


@pytest.mark.parametrize("code", IDS)
def test_good_example_is_clean_under_all_default_rules(code: str) -> None:
    example = CATALOG[code]["example"]
    findings = lint_text(example["good"], facts=_facts(example), peers=example.get("peers", ()))
    assert _codes(findings) == []


@pytest.mark.parametrize("code", IDS)
def test_good_example_passes_libvirts_schema(code: str) -> None:
    """FX901 is opt-in, so the default-rule test above does not cover it."""
    if find_schema() is None:
        pytest.skip("libvirt's schemas are not installed")
    findings = lint_text(CATALOG[code]["example"]["good"], select=["FX901"])
    assert _codes(findings) == []


@pytest.mark.parametrize("code", FIXABLE)
def test_fixed_example_is_what_the_fix_makes_of_bad(code: str) -> None:
    entry = CATALOG[code]
    example = entry["example"]
    facts = _facts(example)
    unsafe = entry["fix"] == "unsafe"
    peers = example.get("peers", ())
    fixed = fix_text(
        example["bad"], extend_select=[code], facts=facts, unsafe_fixes=unsafe, peers=peers
    )
    assert fixed.decode("utf-8") == example["fixed"]
    after = lint_text(example["fixed"], extend_select=[code], facts=facts, peers=peers)
    assert code not in _codes(after)
