"""The ``lint`` calls the launcher runs without typer, read from the one declaration of lint's
options (:mod:`famfs_xml.cli.options`).

A call is *plain* when every option in it is one the launcher can take exactly as typer
would: a value-less flag, ``--jobs N``, a choice (``--format sarif``, ``--fail-on info``)
spelled as one of its values, a rule list (``--select FX3``), a path or a plain string
(``--libvirt-version 9.0``, which the settings check as they do for typer's call). Anything else (a
value typer would refuse or convert differently, ``--connect``, ``--help``, ``--``, an
unknown option) makes the call not plain, and typer, which owns the command line and its
messages, reads it. So the launcher never words an error of its own.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any, NamedTuple

from famfs_xml.cli.options import Field, LintArgs, declared, plain_flags

# lint's options that take no value, by spelling, and the one that takes a number
LINT_FLAGS = plain_flags(LintArgs)
JOBS = next(item.opt.flags for item in declared(LintArgs) if item.name == "jobs")


def _value_options() -> dict[str, Field]:
    """lint's options with a value, by spelling: :func:`_converted` converts them as typer
    does (an option of a kind it does not know is left to typer, whatever its value)."""
    found: dict[str, Field] = {}
    for item in declared(LintArgs):
        if item.kind is bool or item.name == "connect":  # --connect: libvirt's domains
            continue
        for spelling in item.opt.flags:
            found[spelling] = item
    return found


VALUE_OPTIONS = _value_options()


class PlainLint(NamedTuple):
    paths: list[str]
    given: dict[str, Any]  # the options given, by parameter name, converted as typer does

    def args(self) -> LintArgs:
        return LintArgs(**self.given)


def plain_lint(args: list[str]) -> PlainLint | None:
    """A ``lint`` call the launcher can run as typer would; None for any other call."""
    if not args or args[0] != "lint":
        return None
    plain = PlainLint([], {})
    rest = iter(args[1:])
    for arg in rest:
        if arg in LINT_FLAGS:
            plain.given[LINT_FLAGS[arg]] = True
        elif arg == "-" or not arg.startswith("-"):
            plain.paths.append(arg)
        else:
            spelling, equals, value = arg.partition("=")
            item = VALUE_OPTIONS.get(spelling if spelling.startswith("--") else arg)
            if item is None:
                return None
            if not equals:
                value = next(rest, "")
            converted = _converted(item, value)
            if converted is None:
                return None
            _store(plain.given, item, converted)
    return plain if plain.paths else None


def _converted(item: Field, value: str) -> object | None:
    """``value`` as typer would pass it for ``item``; None where typer might answer
    otherwise (refuse it, or take it for an option): the call is then typer's."""
    if not value or value.startswith("-"):
        return None
    kind = item.kind
    if item.name == "jobs":
        return int(value) if value.isascii() and value.isdigit() else None
    choices = _choices(kind)
    if choices is not None:
        return choices.get(value)
    if kind in (Path, Path | None):
        return Path(value)
    if kind in (str, str | None, list[str] | None):
        return value
    return None


def _choices(kind: Any) -> dict[str, enum.Enum] | None:
    """The members of an enum option (``OutputFormat | None``) by value; None otherwise."""
    for member_type in getattr(kind, "__args__", (kind,)):
        if isinstance(member_type, type) and issubclass(member_type, enum.Enum):
            return {member.value: member for member in member_type}
    return None


def _store(given: dict[str, Any], item: Field, value: object) -> None:
    if item.kind == list[str] | None:
        given.setdefault(item.name, []).append(value)
    else:
        given[item.name] = value  # the last one given wins, as in typer
