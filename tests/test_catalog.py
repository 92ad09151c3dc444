"""Every rule catalog entry is well-formed, and its examples behave as the entry says."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

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
