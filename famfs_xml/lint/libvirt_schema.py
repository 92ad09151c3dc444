"""libvirt's own RelaxNG grammar for domain XML (the engine-independent half of FX901).

libvirt ships its schemas with the client tools (``/usr/share/libvirt/schemas`` on Debian,
Fedora and Ubuntu); ``domain.rng`` includes the rest of the grammar. This module finds that
file, compiles it once per process and reports each validation error with the line the
validator names. It never reads the network: the grammar only includes sibling files.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

__all__ = [
    "DEFAULT_SCHEMA_DIRS",
    "SchemaError",
    "SchemaUnavailable",
    "find_schema",
    "load_schema",
    "validate",
]

#: Where distributions install libvirt's schemas, in the order they are tried.
DEFAULT_SCHEMA_DIRS: tuple[Path, ...] = (
    Path("/usr/share/libvirt/schemas"),
    Path("/usr/local/share/libvirt/schemas"),
)

_DOMAIN_RNG = "domain.rng"


class SchemaUnavailable(Exception):
    """The schema file is missing or cannot be compiled."""


@dataclass(frozen=True)
class SchemaError:
    """One complaint of the RelaxNG validator.

    ``line`` is 1-based (0 when the validator names no line); ``column`` is 1-based when
    libxml2 reports one, else 0 -- its RelaxNG validator usually does not. ``path`` is the
    XPath of the element the validator blames (``/domain/cpu``), or None.
    """

    line: int
    column: int
    message: str
    path: str | None = None


def find_schema(directory: Path | None = None) -> Path | None:
    """The ``domain.rng`` to use, or None when there is none.

    ``directory`` may name a schema directory or the ``domain.rng`` file itself; when it is
    None the usual install locations are searched.
    """
    if directory is not None:
        candidate = directory if directory.suffix == ".rng" else directory / _DOMAIN_RNG
        return candidate if candidate.is_file() else None
    for base in DEFAULT_SCHEMA_DIRS:
        candidate = base / _DOMAIN_RNG
        if candidate.is_file():
            return candidate
    return None


@functools.lru_cache(maxsize=4)
def _compile(path: Path) -> etree.RelaxNG:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        grammar = etree.parse(str(path), parser)
        return etree.RelaxNG(grammar)
    except (OSError, etree.XMLSyntaxError, etree.RelaxNGParseError) as exc:
        raise SchemaUnavailable(f"cannot load libvirt schema {path}: {exc}") from None


def load_schema(path: Path | None = None) -> etree.RelaxNG:
    """The compiled grammar for ``path`` (default: :func:`find_schema`), cached per process."""
    schema_path = find_schema() if path is None else path
    if schema_path is None:
        raise SchemaUnavailable(
            "libvirt's domain schema was not found (looked in "
            + ", ".join(str(d) for d in DEFAULT_SCHEMA_DIRS)
            + ")"
        )
    return _compile(schema_path.resolve())


def validate(
    tree: etree._ElementTree | etree._Element, schema: Path | None = None
) -> list[SchemaError]:
    """Validate a parsed domain against libvirt's grammar; an empty list means it passes.

    ``schema`` is a ``domain.rng`` path (default: :func:`find_schema`). Raises
    :class:`SchemaUnavailable` when no grammar can be loaded.
    """
    grammar = load_schema(schema)
    if grammar.validate(tree):
        return []
    errors: list[SchemaError] = []
    seen: set[tuple[int, int, str]] = set()
    for entry in grammar.error_log:
        key = (max(entry.line, 0), max(entry.column, 0), entry.message.strip())
        if key not in seen:
            seen.add(key)
            errors.append(SchemaError(*key, path=entry.path or None))
    if not errors:  # the validator said no but logged nothing: still report it
        errors.append(SchemaError(0, 0, "the document does not match libvirt's domain schema"))
    return errors
