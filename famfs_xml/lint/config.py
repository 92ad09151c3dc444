"""Configuration files: discovery, validation, and merging with command-line options.

The nearest ``.famfs-xml.toml`` (searching from a start directory upwards), or a
``pyproject.toml`` with a ``[tool.famfs-xml]`` table, configures a run. The nearest file wins
and nothing is merged across files. Command-line options override the file.

Every problem (an unknown key, an unknown rule code, a bad value) raises :class:`ConfigError`
with a one-line message that names the file and the key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from famfs_xml.core import units
from famfs_xml.core.findings import Severity
from famfs_xml.core.libvirt_version import LibvirtVersion
from famfs_xml.lint.catalog import RuleInfo
from famfs_xml.lint.hosts import (
    DEFAULT_RULES,
    DEFAULTS,
    HostRules,
    PatternError,
    SharedDevice,
    compile_pattern,
)
from famfs_xml.lint.selection import (
    SelectionError,
    named_codes,
    resolve,
    select_codes,
    split_selectors,
)

CONFIG_NAME = ".famfs-xml.toml"
PYPROJECT = "pyproject.toml"
TOOL_TABLE = "famfs-xml"

_TOP_KEYS = (
    "select",
    "extend-select",
    "ignore",
    "fail-on",
    "hosts",
    "libvirt-version",
    "per-file-ignores",
    "rules",
)
_SIZE = r"\s*([0-9]+)\s*([A-Za-z]*)\s*\Z"  # compiled when a config sets a size


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names the file and the key."""


class RuleParameter(NamedTuple):
    """One ``[rules.CODE]`` key: how to check its value."""

    kind: str  # "size" or "choice"
    minimum: int = 1
    power_of_two: bool = False
    choices: tuple[str, ...] = ()


# The parameters rules read through ``LintOptions.parameters[code][key]`` (bytes for sizes).
RULE_PARAMETERS: dict[str, dict[str, RuleParameter]] = {
    # the RAM FX201's fix gives the cell it adds: libvirt's own (<memory> minus the devices)
    # or all of <memory> (the devices added on top; an unsafe fix)
    "FX201": {"ram": RuleParameter("choice", choices=("libvirt", "memory"))},
    "FX302": {"alignsize": RuleParameter("size", minimum=4096, power_of_two=True)},
    "FX304": {"size": RuleParameter("size", minimum=128 * units.KiB)},
}


class Config(NamedTuple):
    """A validated configuration; ``path`` is None when no file was used."""

    path: Path | None = None
    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    fail_on: Severity | None = None
    per_file_ignores: tuple[tuple[str, frozenset[str]], ...] = ()
    parameters: Mapping[str, Mapping[str, Any]] = MappingProxyType({})
    libvirt_version: LibvirtVersion | None = None
    hosts: HostRules = DEFAULT_RULES


def discover(start: Path) -> Path | None:
    """The nearest config file at or above ``start``: ``.famfs-xml.toml`` beats a
    ``pyproject.toml`` in the same directory; a ``pyproject.toml`` counts only with a
    ``[tool.famfs-xml]`` table."""
    directory = start.resolve()
    for folder in (directory, *directory.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
        pyproject = folder / PYPROJECT
        if pyproject.is_file() and _has_tool_table(pyproject):
            return pyproject
    return None


def _has_tool_table(path: Path) -> bool:
    try:
        text = path.read_bytes()
    except OSError:
        return False
    # Most pyproject.toml files are not ours, and parsing one costs more than linting a
    # domain: a [tool.famfs-xml] table spells "famfs", unless a quoted key escapes it.
    if b"famfs" not in text and b"\\" not in text:
        return False
    try:
        data = _read_toml(path)
    except ConfigError:
        # a broken pyproject.toml is our business only when it seems to configure us
        try:
            mentions_us = f"[tool.{TOOL_TABLE}".encode() in path.read_bytes()
        except OSError:
            mentions_us = False
        if mentions_us:
            raise
        return False
    tool = data.get("tool")
    return isinstance(tool, dict) and TOOL_TABLE in tool


def _read_toml(path: Path) -> dict[str, Any]:
    from famfs_xml.core.toml import tomllib

    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def load(path: Path, catalog: Mapping[str, RuleInfo]) -> Config:
    """Read and validate one config file (``.famfs-xml.toml`` or ``pyproject.toml``)."""
    data = _read_toml(path)
    prefix = ""
    if path.name == PYPROJECT:
        tool = data.get("tool")
        table = tool.get(TOOL_TABLE) if isinstance(tool, dict) else None
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: no [tool.{TOOL_TABLE}] table")
        data = table
        prefix = f"tool.{TOOL_TABLE}."
    return _parse(data, path, prefix, catalog)


def resolve_config(
    catalog: Mapping[str, RuleInfo],
    *,
    explicit: Path | None = None,
    isolated: bool = False,
    start: Path | None = None,
) -> Config:
    """The configuration of a run: ``explicit`` if given, none if ``isolated``, else the
    nearest file above ``start`` (the current directory by default)."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"{explicit}: config file not found")
        return load(explicit, catalog)
    if isolated:
        return Config()
    found = discover(start or Path.cwd())
    return Config() if found is None else load(found, catalog)


def _parse(
    data: Mapping[str, Any], path: Path, prefix: str, catalog: Mapping[str, RuleInfo]
) -> Config:
    def where(key: str) -> str:
        return f"{path}: {prefix}{key}"

    for key in data:
        if key not in _TOP_KEYS:
            raise ConfigError(f"{where(key)}: unknown key (known: {', '.join(_TOP_KEYS)})")
    select = None
    if "select" in data:
        select = tuple(_selectors(data["select"], where("select"), catalog))
    extend_select = tuple(
        _selectors(data.get("extend-select", []), where("extend-select"), catalog)
    )
    ignore = tuple(_selectors(data.get("ignore", []), where("ignore"), catalog))
    fail_on = None
    if "fail-on" in data:
        value = data["fail-on"]
        try:
            fail_on = Severity.parse(value) if isinstance(value, str) else None
        except ValueError:
            fail_on = None
        if fail_on is None:
            raise ConfigError(f"{where('fail-on')}: {value!r} is not error, warning or info")
    per_file = _per_file_ignores(
        data.get("per-file-ignores", {}), where("per-file-ignores"), catalog
    )
    parameters = _rule_parameters(data.get("rules", {}), where, catalog)
    return Config(
        path=path,
        select=select,
        extend_select=extend_select,
        ignore=ignore,
        fail_on=fail_on,
        per_file_ignores=per_file,
        parameters=parameters,
        libvirt_version=_libvirt_version(data, where("libvirt-version")),
        hosts=_hosts(data.get("hosts", {}), path, where),
    )


_HOST_KEYS = ("path-patterns", "default", "shared-devices")


def _hosts(value: Any, path: Path, where: Callable[[str], str]) -> HostRules:
    """The ``[hosts]`` table: how files name their host, and the devices hosts share."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where('hosts')}: expected a table")
    for key in value:
        if key not in _HOST_KEYS:
            raise ConfigError(
                f"{where(f'hosts.{key}')}: unknown key (known: {', '.join(_HOST_KEYS)})"
            )
    patterns = value.get("path-patterns", [])
    if isinstance(patterns, str):
        patterns = [patterns]
    here = where("hosts.path-patterns")
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise ConfigError(
            f"{here}: expected a list of path patterns such as 'hosts/{{host}}/*.xml'"
        )
    try:
        compiled = tuple(compile_pattern(pattern) for pattern in patterns)
    except PatternError as exc:
        raise ConfigError(f"{here}: {exc}") from None
    default = value.get("default", DEFAULT_RULES.default)
    if default not in DEFAULTS:
        raise ConfigError(
            f"{where('hosts.default')}: {default!r} is not {' or '.join(map(repr, DEFAULTS))}"
        )
    shared = _shared_devices(value.get("shared-devices", []), where("hosts.shared-devices"))
    return HostRules(str(path.resolve().parent), compiled, default, shared)


def _shared_devices(value: Any, where: str) -> tuple[SharedDevice, ...]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ConfigError(f"{where}: expected [[hosts.shared-devices]] tables")
    devices: list[SharedDevice] = []
    seen: dict[tuple[str, str], str] = {}
    for number, item in enumerate(value, 1):
        here = f"{where}[{number}]"
        unknown = set(item) - {"name", "paths"}
        if unknown:
            raise ConfigError(f"{here}.{sorted(unknown)[0]}: unknown key (known: name, paths)")
        name, paths = item.get("name"), item.get("paths")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f'{here}.name: expected the device\'s name, such as "cxl0"')
        if any(device.name == name for device in devices):
            raise ConfigError(f"{here}.name: {name!r} names two shared devices")
        if (
            not isinstance(paths, dict)
            or len(paths) < 2
            or not all(isinstance(p, str) and p.startswith("/") for p in paths.values())
        ):
            raise ConfigError(
                f"{here}.paths: expected the device's absolute path on each of two or more "
                'hosts, such as { hv1 = "/dev/dax1.0", hv2 = "/dev/dax3.0" }'
            )
        for host, device_path in paths.items():
            other = seen.setdefault((host, device_path), name)
            if other != name:
                raise ConfigError(
                    f"{here}.paths.{_key(host)}: {device_path} on {host} is already {other}"
                )
        devices.append(SharedDevice(name, dict(paths)))
    return tuple(devices)


def _libvirt_version(data: Mapping[str, Any], where: str) -> LibvirtVersion | None:
    if "libvirt-version" not in data:
        return None
    value = data["libvirt-version"]
    try:
        if not isinstance(value, str):
            raise ValueError(f'{value!r} is not a libvirt version (e.g. "12.8")')
        return LibvirtVersion.parse(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _selectors(value: Any, where: str, catalog: Mapping[str, RuleInfo]) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{where}: expected a list of rule codes, prefixes or names")
    selectors = split_selectors(value)
    for selector in selectors:
        try:
            resolve(selector, catalog)
        except SelectionError:
            raise ConfigError(f"{where}: unknown rule code or name '{selector}'") from None
    return selectors


def _per_file_ignores(
    value: Any, where: str, catalog: Mapping[str, RuleInfo]
) -> tuple[tuple[str, frozenset[str]], ...]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a table of glob = [codes]")
    result = []
    for pattern, selectors in value.items():
        codes: set[str] = set()
        for selector in _selectors(selectors, f"{where}.{_key(pattern)}", catalog):
            codes |= resolve(selector, catalog)
        result.append((pattern, frozenset(codes)))
    return tuple(result)


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else f'"{name}"'


def _rule_parameters(
    value: Any, where: Any, catalog: Mapping[str, RuleInfo]
) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where('rules')}: expected tables such as [rules.FX302]")
    parameters: dict[str, dict[str, Any]] = {}
    for code, table in value.items():
        here = f"rules.{code}"
        if code not in catalog:
            raise ConfigError(f"{where(here)}: unknown rule code '{code}'")
        known = RULE_PARAMETERS.get(code, {})
        if not known:
            raise ConfigError(f"{where(here)}: {code} has no parameters")
        if not isinstance(table, dict):
            raise ConfigError(f"{where(here)}: expected a table")
        for key, raw in table.items():
            spec = known.get(key)
            if spec is None:
                raise ConfigError(
                    f"{where(f'{here}.{key}')}: unknown key (known: {', '.join(known)})"
                )
            parameters.setdefault(code, {})[key] = _value(raw, spec, where(f"{here}.{key}"))
    return parameters


def parse_size(value: Any) -> int:
    """``"2MiB"``, ``"1 GiB"`` or an integer number of bytes -> bytes (exact, no rounding)."""
    if isinstance(value, bool):
        raise ValueError("a size, not a boolean")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError("a size must be positive")
        return value
    if not isinstance(value, str):
        raise ValueError('expected a size such as "2MiB"')
    match = re.match(_SIZE, value)
    if match is None or not match.group(2):
        raise ValueError('expected a number and a unit, such as "2MiB" or "1GiB"')
    try:
        scale = units.multiplier(match.group(2))
    except units.UnitError as exc:
        raise ValueError(str(exc)) from None
    size = int(match.group(1)) * scale
    if size <= 0:
        raise ValueError("a size must be positive")
    return size


def _value(raw: Any, spec: RuleParameter, where: str) -> int | str:
    if spec.kind == "choice":
        if raw not in spec.choices:
            expected = " or ".join(repr(choice) for choice in spec.choices)
            raise ConfigError(f"{where}: {raw!r} is not {expected}")
        return str(raw)
    return _size(raw, spec, where)


def _size(raw: Any, spec: RuleParameter, where: str) -> int:
    try:
        size = parse_size(raw)
    except ValueError as exc:
        raise ConfigError(f"{where}: bad size {raw!r}: {exc}") from None
    if size < spec.minimum:
        raise ConfigError(f"{where}: {raw!r} is below the minimum {units.human(spec.minimum)}")
    if spec.power_of_two and size & (size - 1):
        raise ConfigError(f"{where}: {raw!r} is not a power of two")
    return size


class Overrides(NamedTuple):
    """What the command line said; None / empty means "not given"."""

    select: Sequence[str] | None = None
    extend_select: Sequence[str] = ()
    ignore: Sequence[str] = ()
    fail_on: Severity | None = None


def effective_codes(
    catalog: Mapping[str, RuleInfo],
    config: Config,
    cli: Overrides,
    opt_in: frozenset[str] = frozenset(),
) -> frozenset[str]:
    """The rules to run: the config's selection, then the command line's on top of it.

    ``--select`` replaces the config's whole selection; ``--extend-select`` adds to it and
    ``--ignore`` removes from it. ``opt_in`` rules run only when named.
    """
    codes = set(select_codes(catalog, config.select, config.extend_select, config.ignore, opt_in))
    selectors = split_selectors(cli.select)
    if selectors:
        codes = set(select_codes(catalog, selectors, opt_in=opt_in))
    codes |= _resolve_all(cli.extend_select, catalog)
    codes -= _resolve_all(cli.ignore, catalog)
    return frozenset(codes)


def effective_named(
    catalog: Mapping[str, RuleInfo], config: Config, cli: Overrides
) -> frozenset[str]:
    """The codes the config and the command line name, merged as :func:`effective_codes`
    merges the selection."""
    named = set(named_codes(catalog, config.select, config.extend_select, config.ignore))
    if split_selectors(cli.select):
        named = set(named_codes(catalog, cli.select))
    named |= _resolve_all(cli.extend_select, catalog)
    named -= _resolve_all(cli.ignore, catalog)
    return frozenset(named)


def _resolve_all(values: Iterable[str], catalog: Mapping[str, RuleInfo]) -> set[str]:
    codes: set[str] = set()
    for selector in split_selectors(values):
        codes |= resolve(selector, catalog)
    return codes


def effective_fail_on(config: Config, cli: Overrides) -> Severity:
    return cli.fail_on or config.fail_on or Severity.WARNING
