"""The ``famfs-xml`` program: the common ``lint`` call and libvirt's hook calls without typer,
everything else with it.

A git hook runs ``famfs-xml lint [--only-domains] FILE...`` on every commit. Importing typer
costs more than the whole lint of a few files, so an invocation made only of ``lint``, the
value-less flags declared in :mod:`famfs_xml.cli.options`, ``--jobs N`` and paths goes
straight to :func:`famfs_xml.cli.commands.lint`; any other invocation (an option with a
value, ``--help``, another command, anything unknown) goes to the typer application in
:mod:`famfs_xml.cli.app`, which owns the command line and its messages. Both read the
one declaration of lint's options. ``famfs-xml libvirt-hook ...``, which libvirt runs on
every event of every domain, goes to :mod:`famfs_xml.cli.hook` unless it asks for help.
"""

from __future__ import annotations

import sys
from typing import Any, NamedTuple, NoReturn

from famfs_xml.cli.options import LintArgs, declared, plain_flags

# lint's options that take no value, by spelling (the launcher's whole vocabulary), and the
# one that takes a number; typer words every other value, and every bad one.
LINT_FLAGS = plain_flags(LintArgs)
JOBS = next(item.opt.flags for item in declared(LintArgs) if item.name == "jobs")
_JOBS_WITH_VALUE = tuple(f"{spelling}=" for spelling in JOBS if spelling.startswith("--"))


class PlainLint(NamedTuple):
    paths: list[str]
    flags: set[str]  # parameter names of the flags given
    jobs: int = 0


def plain_lint(args: list[str]) -> PlainLint | None:
    """A ``lint`` call made only of flags, ``--jobs N`` and paths; None for any other call."""
    if not args or args[0] != "lint":
        return None
    plain = PlainLint([], set())
    rest = iter(args[1:])
    for arg in rest:
        if arg in LINT_FLAGS:
            plain.flags.add(LINT_FLAGS[arg])
        elif arg in JOBS or arg.startswith(_JOBS_WITH_VALUE):
            number = arg.partition("=")[2] if "=" in arg else next(rest, "")
            if not number.isdigit() or not number.isascii():
                return None
            plain = plain._replace(jobs=int(number))
        elif arg == "-" or not arg.startswith("-"):
            plain.paths.append(arg)
        else:
            return None
    return plain if plain.paths else None


def run(argv: list[str] | None = None) -> int:
    """Run ``famfs-xml`` and return its exit code."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["libvirt-hook"] and not {"-h", "--help"} & set(args):
        from famfs_xml.cli import hook  # libvirt runs it on every domain event: no typer

        return hook.run(args[1:])
    plain = plain_lint(args)
    if plain is None:
        from famfs_xml.cli.app import run as run_cli

        return run_cli(args)
    from famfs_xml.cli import commands

    paths, flags, jobs = plain
    given: dict[str, Any] = dict.fromkeys(flags, True)
    lint_args = LintArgs(jobs=jobs, **given)
    # no option parser here: every exception is an internal error
    return commands.guarded(lambda: commands.lint(paths, lint_args), lambda _: None)


def main() -> NoReturn:
    sys.exit(run())
