"""The rule catalog: one TOML file per rule, shipped in the wheel as ``famfs_xml/lint/_catalog``."""

from __future__ import annotations

from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from famfs_xml.core.findings import Applicability, Severity

if TYPE_CHECKING:
    from collections.abc import Iterable

IndexEntry = tuple[str, str, str, str, str, tuple[str, ...], str]

DOCS_URL = "https://github.com/famfs-xml/famfs-xml/blob/main/rules/{code}.toml"


class Example(NamedTuple):
    bad: str
    good: str
    fixed: str | None = None
    inventory: str | None = None
    peers: tuple[str, ...] = ()


class _Details(NamedTuple):
    explanation: str
    example: Example | None
    extra: dict[str, Any]


class RuleInfo:
    """One catalog entry. A lint run needs only the first fields; the example and any extra
    keys (and the explanation, unless the packaged index gave it) are read from ``source``
    the first time they are asked for."""

    def __init__(
        self,
        code: str,
        name: str,
        severity: Severity,
        fix: Applicability,
        summary: str,
        tags: tuple[str, ...] = (),
        source: Path | None = None,
        explanation: str | None = None,
    ) -> None:
        self.code = code
        self.name = name
        self.severity = severity
        self.fix = fix
        self.summary = summary
        self.tags = tags
        self.source = source
        self._explanation = explanation

    def __repr__(self) -> str:
        return f"RuleInfo({self.code} {self.name})"

    def _header(self) -> tuple[object, ...]:
        return (self.code, self.name, self.severity, self.fix, self.summary, self.tags)

    def __eq__(self, other: object) -> bool:
        """Entries are equal when their headers are, wherever they were read from."""
        if not isinstance(other, RuleInfo):
            return NotImplemented
        return self._header() == other._header()

    def __hash__(self) -> int:
        return hash(self._header())

    @cached_property
    def _details(self) -> _Details:
        if self.source is None:
            return _Details("", None, {})
        return _details_from_toml(_read_toml(self.source), self.source)

    @property
    def explanation(self) -> str:
        if self._explanation is not None:
            return self._explanation
        return self._details.explanation

    @property
    def example(self) -> Example | None:
        return self._details.example

    @property
    def extra(self) -> dict[str, Any]:
        return self._details.extra

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
    return here.parents[1] / "rules"


_KNOWN_KEYS = {"code", "name", "severity", "fix", "summary", "explanation", "tags", "example"}


_HEADER_KEYS = ("code", "name", "severity", "fix", "summary", "tags")
_DETAIL_START = b"\nexplanation"


def _read_toml(path: Path, data: bytes | None = None) -> dict[str, Any]:
    from famfs_xml.core.toml import tomllib

    try:
        text = (path.read_bytes() if data is None else data).decode("utf-8")
        return tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CatalogError(f"{path}: cannot read the catalog entry ({exc})") from None


def _header(data: bytes, path: Path) -> dict[str, Any]:
    """The keys before ``explanation`` (all a lint run needs), without parsing the long
    strings after them; the whole file when the entry is laid out otherwise."""
    from famfs_xml.core.toml import tomllib

    cut = data.find(_DETAIL_START)
    if cut > 0:
        try:
            header = tomllib.loads(data[: cut + 1].decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError):
            header = {}
        if all(key in header for key in ("code", "name", "severity", "summary")) and all(
            key in _HEADER_KEYS for key in header
        ):
            return header
    return _read_toml(path, data)


def _rule_from_toml(data: dict[str, Any], source: Path) -> RuleInfo:
    try:
        return RuleInfo(
            code=data["code"],
            name=data["name"],
            severity=Severity.parse(data["severity"]),
            fix=Applicability(data.get("fix", "none")),
            summary=data["summary"].strip(),
            tags=tuple(data.get("tags", ())),
            source=source,
        )
    except (KeyError, ValueError, AttributeError) as exc:
        raise CatalogError(f"{source}: bad catalog entry ({exc})") from None


def _details_from_toml(data: dict[str, Any], source: Path) -> _Details:
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
        return _Details(
            explanation=data["explanation"].strip(),
            example=example,
            extra={k: v for k, v in data.items() if k not in _KNOWN_KEYS},
        )
    except (KeyError, ValueError, AttributeError) as exc:
        raise CatalogError(f"{source}: bad catalog entry ({exc})") from None


@cache
def load_catalog(directory: Path | None = None) -> dict[str, RuleInfo]:
    """Every rule, by code, in code order.

    The packaged catalog comes from its index, ``famfs_xml/lint/_rule_index.py``, generated
    from the TOML files (``python -m famfs_xml.lint.catalog``; a test keeps it in step): a lint
    run then reads one compiled module instead of parsing fifty files. Any other
    ``directory`` is read from its TOML files.
    """
    if directory is None:
        from famfs_xml.lint._rule_index import RULES

        return _from_index(RULES, catalog_dir())
    return _from_toml_files(directory)


def _from_index(entries: Iterable[IndexEntry], folder: Path) -> dict[str, RuleInfo]:
    rules: dict[str, RuleInfo] = {}
    for code, name, severity, fix, summary, tags, explanation in entries:
        rules[code] = RuleInfo(
            code=code,
            name=name,
            severity=Severity[severity.upper()],
            fix=Applicability(fix),
            summary=summary,
            tags=tuple(tags),
            source=folder / f"{code}.toml",
            explanation=explanation,
        )
    return rules


def _from_toml_files(folder: Path) -> dict[str, RuleInfo]:
    rules: dict[str, RuleInfo] = {}
    for path in sorted(folder.glob("F[XH][0-9][0-9][0-9].toml")):
        rule = _rule_from_toml(_header(path.read_bytes(), path), path)
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


def render_index(catalog: dict[str, RuleInfo]) -> str:
    """The source of ``famfs_xml/lint/_rule_index.py`` for ``catalog``."""
    lines = [
        '"""The rule catalog\'s header fields and explanations, generated from rules/*.toml.',
        "",
        "Regenerate with ``python -m famfs_xml.lint.catalog`` after editing a rule; do not edit.",
        '"""',
        "",
        "RULES: tuple[tuple[str, str, str, str, str, tuple[str, ...], str], ...] = (",
    ]
    for rule in catalog.values():
        entry: IndexEntry = (
            rule.code,
            rule.name,
            rule.severity.label,
            rule.fix.value,
            rule.summary,
            rule.tags,
            # every SARIF report carries the whole rule table: no TOML parsing for it
            rule.explanation,
        )
        lines.append(f"    {entry!r},")
    lines.append(")")
    return "\n".join(lines) + "\n"


INDEX_PATH = Path(__file__).resolve().parent / "_rule_index.py"


if __name__ == "__main__":
    INDEX_PATH.write_text(render_index(_from_toml_files(catalog_dir())), encoding="utf-8")
