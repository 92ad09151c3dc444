"""The rule catalog: one TOML file per rule, shipped in the wheel as ``famfs_xml/_catalog``."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from famfs_xml.findings import Applicability, Severity

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

DOCS_URL = "https://github.com/famfs-xml/famfs-xml/blob/main/rules/{code}.toml"


@dataclass(frozen=True)
class Example:
    bad: str
    good: str
    fixed: str | None = None
    inventory: str | None = None
    peers: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleInfo:
    code: str
    name: str
    severity: Severity
    fix: Applicability
    summary: str
    explanation: str
    tags: tuple[str, ...] = ()
    example: Example | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return DOCS_URL.format(code=self.code)

    @property
    def is_host_check(self) -> bool:
        return self.code.startswith("FH")


class CatalogError(Exception):
    pass


def catalog_dir() -> Path:
    """The packaged catalog, or the repository's ``rules/`` in a source checkout."""
    here = Path(__file__).resolve().parent
    packaged = here / "_catalog"
    if packaged.is_dir():
        return packaged
    return here.parent / "rules"


_KNOWN_KEYS = {"code", "name", "severity", "fix", "summary", "explanation", "tags", "example"}


def _rule_from_toml(data: dict[str, Any], source: Path) -> RuleInfo:
    try:
        example_data = data.get("example")
        example = None
        if isinstance(example_data, dict):
            example = Example(
                bad=example_data["bad"],
                good=example_data["good"],
                fixed=example_data.get("fixed"),
                inventory=example_data.get("inventory"),
                peers=tuple(example_data.get("peers", ())),
            )
        return RuleInfo(
            code=data["code"],
            name=data["name"],
            severity=Severity.parse(data["severity"]),
            fix=Applicability(data.get("fix", "none")),
            summary=data["summary"].strip(),
            explanation=data["explanation"].strip(),
            tags=tuple(data.get("tags", ())),
            example=example,
            extra={k: v for k, v in data.items() if k not in _KNOWN_KEYS},
        )
    except (KeyError, ValueError, AttributeError) as exc:
        raise CatalogError(f"{source}: bad catalog entry ({exc})") from None


@cache
def load_catalog(directory: Path | None = None) -> dict[str, RuleInfo]:
    """Every rule, by code, in code order."""
    folder = directory or catalog_dir()
    rules: dict[str, RuleInfo] = {}
    for path in sorted(folder.glob("F[XH][0-9][0-9][0-9].toml")):
        with path.open("rb") as handle:
            rule = _rule_from_toml(tomllib.load(handle), path)
        if rule.code != path.stem:
            raise CatalogError(f"{path}: code {rule.code} does not match the file name")
        rules[rule.code] = rule
    if not rules:
        raise CatalogError(f"no rule catalog found in {folder}")
    return rules


def find_rule(key: str) -> RuleInfo | None:
    """A rule by code (any case) or by name."""
    catalog = load_catalog()
    upper = key.strip().upper()
    if upper in catalog:
        return catalog[upper]
    for rule in catalog.values():
        if rule.name == key.strip().lower():
            return rule
    return None
