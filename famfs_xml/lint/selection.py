"""Turning ``--select`` / ``--extend-select`` / ``--ignore`` into a set of rule codes.

A selector is a code (``FX302``), a prefix (``FX3``, ``FX``), a rule name
(``nvdimm-alignsize``), a tag (``libvirt``, ``famfs``) or ``ALL``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from famfs_xml.core.findings import Severity
from famfs_xml.lint.catalog import RuleInfo


class SelectionError(ValueError):
    pass


def split_selectors(values: Iterable[str] | None) -> list[str]:
    """``["FX1,FX2", "FX3"]`` -> ``["FX1", "FX2", "FX3"]``."""
    result: list[str] = []
    for value in values or ():
        result.extend(part.strip() for part in value.split(",") if part.strip())
    return result


def resolve(selector: str, catalog: Mapping[str, RuleInfo]) -> set[str]:
    """The lint codes one selector names; an unknown selector is an error."""
    lint_codes = [code for code in catalog if code.startswith("FX")]
    token = selector.strip()
    if token.upper() == "ALL":
        return set(lint_codes)
    upper = token.upper()
    matched = {code for code in lint_codes if code.startswith(upper)}
    if matched:
        return matched
    lowered = token.lower()
    by_name = {code for code in lint_codes if catalog[code].name == lowered}
    if by_name:
        return by_name
    by_tag = {code for code in lint_codes if lowered in catalog[code].tags}
    if by_tag:
        return by_tag
    raise SelectionError(f"unknown rule selector '{selector}' (use a code, prefix, name or tag)")


def select_codes(
    catalog: Mapping[str, RuleInfo],
    select: Iterable[str] | None = None,
    extend_select: Iterable[str] = (),
    ignore: Iterable[str] = (),
    opt_in: frozenset[str] = frozenset(),
) -> frozenset[str]:
    """The codes to run: by default every lint rule that is neither ``info`` nor ``opt_in``."""
    selectors = split_selectors(select)
    if selectors:
        chosen: set[str] = set()
        for selector in selectors:
            chosen |= resolve(selector, catalog)
    else:
        chosen = {
            code
            for code, rule in catalog.items()
            if code.startswith("FX") and rule.severity is not Severity.INFO and code not in opt_in
        }
    for selector in split_selectors(extend_select):
        chosen |= resolve(selector, catalog)
    for selector in split_selectors(ignore):
        chosen -= resolve(selector, catalog)
    return frozenset(chosen)


def named_codes(
    catalog: Mapping[str, RuleInfo],
    select: Iterable[str] | None = None,
    extend_select: Iterable[str] = (),
    ignore: Iterable[str] = (),
) -> frozenset[str]:
    """The codes a selector names (not those chosen by default): their info-level findings
    are reported, as an info rule runs only when named."""
    named: set[str] = set()
    for selector in [*split_selectors(select), *split_selectors(extend_select)]:
        named |= resolve(selector, catalog)
    for selector in split_selectors(ignore):
        named -= resolve(selector, catalog)
    return frozenset(named)
