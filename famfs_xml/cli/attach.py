"""The ``attach`` and ``detach`` commands (a thin layer over :mod:`famfs_xml.attach`)."""

from __future__ import annotations

import inspect
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from famfs_xml.cli.app import command_from
from famfs_xml.cli.commands import (
    EXIT_ERROR,
    EXIT_FINDINGS,
    EXIT_OK,
    UsageFailure,
    check_targets,
    rule_settings,
)
from famfs_xml.cli.options import AttachArgs, DetachArgs

if TYPE_CHECKING:
    from famfs_xml.attach import Outcome
    from famfs_xml.core.findings import Severity

Domains = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="DOMAIN.xml",
        help="Domain XML files to change (all or none); - reads stdin and writes to stdout. "
        "With --connect: domain names.",
        show_default=False,
    ),
]


def _size(text: str | None, option: str) -> int | None:
    from famfs_xml.attach import AttachError, parse_size

    if text is None:
        return None
    try:
        return parse_size(text, option)
    except AttachError as exc:
        raise UsageFailure(str(exc)) from None


def _finish(outcome: Outcome, diff: bool, fail_on: Severity, command: str, source: str) -> int:
    from famfs_xml.attach import next_steps, write_changes
    from famfs_xml.core.findings import FileResult
    from famfs_xml.lint.engine import fails
    from famfs_xml.lint.run import RunResult
    from famfs_xml.report import text

    if outcome.errors:
        for error in outcome.errors:
            typer.echo(f"famfs-xml: error: {error}", err=True)
        return EXIT_ERROR
    if diff:
        sys.stdout.write(outcome.diffs())
        return EXIT_FINDINGS if outcome.changed else EXIT_OK
    write_changes(outcome, command, f" --source {source}")
    for note in outcome.notes:
        typer.echo(f"famfs-xml: note: {note}", err=True)
    data = outcome.stdout_data
    to_stderr = data is not None
    if data is not None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    for item in outcome.files:
        typer.echo(f"{item.display}: {item.change.message}", err=to_stderr)
    if command == "attach" and not outcome.errors:
        for line in next_steps(outcome):
            typer.echo(line, err=to_stderr)
    if outcome.findings:
        result = RunResult(files=[FileResult(f.path, [f]) for f in outcome.findings])
        typer.echo(text.render(result, "lint"), nl=False, err=to_stderr)
    for error in outcome.errors:
        typer.echo(f"famfs-xml: error: {error}", err=True)
    if outcome.errors:
        return EXIT_ERROR
    if fails(outcome.findings, fail_on):
        return EXIT_FINDINGS
    return EXIT_OK


def attach(domains: list[str], args: AttachArgs) -> int:
    """Attach a shared memory device (nvdimm) to domains, as the famfs VM guide does by hand."""
    from famfs_xml.attach import Request, attach_paths

    request = Request(
        source=args.source,
        size=_size(args.size, "size"),
        align=_size(args.align, "align"),
        label=_size(args.label, "label"),
        node=args.node,
        slot=args.slot,
    )
    if args.live:
        from famfs_xml.cli import live

        return live.attach(domains, args, request, args.diff)
    check_targets(domains, args, "domain files to change")
    settings = rule_settings(args)
    outcome = attach_paths(domains, request, settings.options)
    return _finish(outcome, args.diff, settings.fail_on, "attach", args.source)


def detach(domains: list[str], args: DetachArgs) -> int:
    """Remove the nvdimm backed by --source and lower memory/currentMemory to match."""
    from famfs_xml.attach import detach_paths

    if args.live:
        from famfs_xml.cli import live

        return live.detach(domains, args, args.source, args.diff)
    check_targets(domains, args, "domain files to change")
    settings = rule_settings(args)
    outcome = detach_paths(domains, args.source, settings.options)
    return _finish(outcome, args.diff, settings.fail_on, "detach", args.source)


def register(app: typer.Typer) -> None:
    domains = inspect.Parameter(
        "domains", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=Domains
    )
    app.command("attach", help=attach.__doc__)(command_from(AttachArgs, [domains], attach))
    app.command("detach", help=detach.__doc__)(command_from(DetachArgs, [domains], detach))
