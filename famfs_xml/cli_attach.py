"""The ``attach`` and ``detach`` commands (a thin layer over :mod:`famfs_xml.attach`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from famfs_xml.cli import (
    ExtendSelect,
    FailOnOption,
    HostOption,
    Ignore,
    InventoryOption,
    RootOption,
    Select,
)
from famfs_xml.commands import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, FailOn, UsageFailure
from famfs_xml.commands import lint_options as _options

if TYPE_CHECKING:
    from famfs_xml.attach import Outcome

Domains = Annotated[
    list[str],
    typer.Argument(
        metavar="DOMAIN.xml",
        help="Domain XML files to change (all or none); - reads stdin and writes to stdout.",
    ),
]
SourceOption = Annotated[
    str,
    typer.Option(
        "--source", metavar="PATH", help="The shared backing path on the host, e.g. /dev/dax1.0."
    ),
]
DiffOption = Annotated[
    bool,
    typer.Option(
        "--diff", help="Print a unified diff instead of writing; exit 1 if anything would change."
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


def _finish(outcome: Outcome, diff: bool, fail_on: FailOn) -> NoReturn:
    from famfs_xml.attach import write_changes
    from famfs_xml.engine import fails
    from famfs_xml.findings import FileResult, Severity
    from famfs_xml.report import text
    from famfs_xml.run import RunResult

    if outcome.errors:
        for error in outcome.errors:
            typer.echo(f"famfs-xml: error: {error}", err=True)
        raise typer.Exit(EXIT_ERROR)
    if diff:
        sys.stdout.write(outcome.diffs())
        raise typer.Exit(EXIT_FINDINGS if outcome.changed else EXIT_OK)
    write_changes(outcome)
    data = outcome.stdout_data
    to_stderr = data is not None
    if data is not None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    for item in outcome.files:
        typer.echo(f"{item.display}: {item.change.message}", err=to_stderr)
    if outcome.findings:
        result = RunResult(files=[FileResult(f.path, [f]) for f in outcome.findings])
        typer.echo(text.render(result, "lint"), nl=False, err=to_stderr)
    for error in outcome.errors:
        typer.echo(f"famfs-xml: error: {error}", err=True)
    if outcome.errors:
        raise typer.Exit(EXIT_ERROR)
    if fails(outcome.findings, Severity.parse(fail_on.value)):
        raise typer.Exit(EXIT_FINDINGS)
    raise typer.Exit(EXIT_OK)


def attach_command(
    domains: Domains,
    source: SourceOption,
    size: Annotated[
        str | None,
        typer.Option(
            "--size",
            metavar="SIZE",
            help="Device size: 8G, 8GiB, 8192MiB or bytes (default: from the inventory or host, "
            "else from domains that already use the device).",
        ),
    ] = None,
    node: Annotated[
        int, typer.Option("--node", metavar="N", help="Guest NUMA cell for the device.")
    ] = 0,
    label: Annotated[
        str | None, typer.Option("--label", metavar="SIZE", help="Label size (default 16MiB).")
    ] = None,
    align: Annotated[
        str | None,
        typer.Option(
            "--align",
            metavar="SIZE",
            help="alignsize (default: the device's alignment, else 2MiB).",
        ),
    ] = None,
    slot: Annotated[
        int | None,
        typer.Option("--slot", metavar="N", help="dimm slot (default: the lowest free one)."),
    ] = None,
    inventory: InventoryOption = None,
    host: HostOption = False,
    root: RootOption = Path("/"),
    diff: DiffOption = False,
    select: Select = None,
    extend_select: ExtendSelect = None,
    ignore: Ignore = None,
    fail_on: FailOnOption = FailOn.warning,
) -> None:
    """Attach a shared memory device (nvdimm) to domains, as the famfs VM guide does by hand."""
    from famfs_xml.attach import Request, attach_paths

    request = Request(
        source=source,
        size=_size(size, "size"),
        align=_size(align, "align"),
        label=_size(label, "label"),
        node=node,
        slot=slot,
    )
    options = _options(select, extend_select, ignore, (inventory, host, root))
    _finish(attach_paths(domains, request, options), diff, fail_on)


def detach_command(
    domains: Domains,
    source: SourceOption,
    diff: DiffOption = False,
    inventory: InventoryOption = None,
    host: HostOption = False,
    root: RootOption = Path("/"),
    select: Select = None,
    extend_select: ExtendSelect = None,
    ignore: Ignore = None,
    fail_on: FailOnOption = FailOn.warning,
) -> None:
    """Remove the nvdimm backed by --source and lower memory/currentMemory to match."""
    from famfs_xml.attach import detach_paths

    options = _options(select, extend_select, ignore, (inventory, host, root))
    _finish(detach_paths(domains, source, options), diff, fail_on)


def register(app: typer.Typer) -> None:
    app.command("attach")(attach_command)
    app.command("detach")(detach_command)
