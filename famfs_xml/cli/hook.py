"""``famfs-xml libvirt-hook``: the start-time gate, run by libvirt for every domain event.

libvirt calls the hook as ``famfs-xml libvirt-hook [--config FILE] NAME OPERATION
SUB-OPERATION EXTRA`` with the domain XML on stdin. The launcher sends such a call here
without loading typer: the hook runs on every start, stop and migration of every domain.
The gate itself is :mod:`famfs_xml.live.hook`.

Exit 0 lets libvirt go on; exit 1, with one line on stderr, refuses the start. A broken
``--config`` file refuses the start too (the operator asked for it and must hear of it);
an internal error lets the start through and says so on stderr, so that a fault in
famfs-xml never keeps virtual machines from starting.
"""

# No ``from __future__ import annotations``: typer reads the annotations of the command that
# :func:`register` defines, in a scope where typer is imported.
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NamedTuple

if TYPE_CHECKING:
    import typer

RUN_DIR = Path("/run/libvirt/qemu")  # where the system daemon keeps running domains' XML
DEFINED_DIR = Path("/etc/libvirt/qemu")  # and the definitions it holds

USAGE = (
    "usage: famfs-xml libvirt-hook [--config FILE] [--run-dir DIR] [--defined-dir DIR] "
    "NAME OPERATION SUB-OPERATION EXTRA (libvirt's qemu hook; the domain XML on stdin)"
)
EXIT_LET_THROUGH, EXIT_REFUSE, EXIT_USAGE = 0, 1, 2


class HookCall(NamedTuple):
    name: str
    operation: str
    sub_operation: str
    config: Path | None = None
    run_dir: Path | None = None
    defined_dir: Path | None = None


def parse(args: list[str]) -> HookCall | None:
    """The call libvirt made; None for anything else."""
    values: dict[str, Path] = {}
    positional: list[str] = []
    rest = iter(args)
    for arg in rest:
        option, equals, value = arg.partition("=")
        if option in ("--config", "--run-dir", "--defined-dir"):
            given = value if equals else next(rest, None)
            if not given:
                return None
            values[option] = Path(given)
        elif arg == "-" or not arg.startswith("-"):
            positional.append(arg)
        else:
            return None
    if len(positional) != 4:
        return None
    name, operation, sub_operation, _extra = positional
    return HookCall(
        name,
        operation,
        sub_operation,
        values.get("--config"),
        values.get("--run-dir"),
        values.get("--defined-dir"),
    )


def run(args: list[str]) -> int:
    """Run the hook; its exit code for libvirt."""
    call = parse(args)
    if call is None:
        _say(USAGE)
        return EXIT_USAGE
    from famfs_xml.live.hook import gated, may_have_memory_devices

    if not gated(call.operation, call.sub_operation):
        return EXIT_LET_THROUGH
    xml = sys.stdin.buffer.read()
    if not may_have_memory_devices(xml):
        return EXIT_LET_THROUGH
    try:
        reason = _refusal(call, xml)
    except _ConfigProblem as exc:
        _say(f"famfs-xml refuses to start {call.name}: {exc}")
        return EXIT_REFUSE
    except Exception as exc:
        if os.environ.get("FAMFS_XML_DEBUG"):
            raise
        _say(
            f"famfs-xml libvirt-hook: internal error: {type(exc).__name__}: {exc}; "
            f"{call.name} was let through unchecked"
        )
        return EXIT_LET_THROUGH
    if reason is None:
        return EXIT_LET_THROUGH
    _say(reason)
    return EXIT_REFUSE


class _ConfigProblem(Exception):
    pass


def _refusal(call: HookCall, xml: bytes) -> str | None:
    from famfs_xml.cli.commands import Selection, UsageFailure, settings_for
    from famfs_xml.live.hook import refusal

    # The daemon's working directory says nothing about the site: no config is searched
    # for; --config names one.
    selection = Selection(None, None, None, None, call.config, call.config is None)
    try:
        settings = settings_for(selection, (None, True, Path("/")))
    except UsageFailure as exc:
        raise _ConfigProblem(str(exc)) from None
    return refusal(
        call.name, xml, settings.options, call.run_dir or RUN_DIR, call.defined_dir or DEFINED_DIR
    )


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def register(app: "typer.Typer") -> None:
    """The command's help, and its parsing for calls the launcher does not recognise."""
    import typer

    @app.command(
        "libvirt-hook",
        help="libvirt's qemu hook: refuse to start a domain whose memory devices would keep it "
        "from starting or break sharing with another domain. "
        'Install as /etc/libvirt/hooks/qemu.d/famfs-xml: exec famfs-xml libvirt-hook "$@".',
    )
    def libvirt_hook(
        name: Annotated[str, typer.Argument(metavar="NAME", help="The domain's name.")],
        operation: Annotated[
            str, typer.Argument(metavar="OPERATION", help="prepare, start, stopped, ...")
        ],
        sub_operation: Annotated[
            str, typer.Argument(metavar="SUB-OPERATION", help="begin, end, ...")
        ],
        extra: Annotated[str, typer.Argument(metavar="EXTRA", help="libvirt passes -.")],
        config: Annotated[
            Path | None,
            typer.Option("--config", metavar="FILE", help="The gate's config file."),
        ] = None,
        run_dir: Annotated[
            Path | None,
            typer.Option(
                "--run-dir", metavar="DIR", help=f"Running domains' XML [default: {RUN_DIR}]."
            ),
        ] = None,
        defined_dir: Annotated[
            Path | None,
            typer.Option(
                "--defined-dir",
                metavar="DIR",
                help=f"Defined domains' XML [default: {DEFINED_DIR}].",
            ),
        ] = None,
    ) -> None:
        args = [name, operation, sub_operation, extra]
        if config is not None:
            args[:0] = ["--config", str(config)]
        if run_dir is not None:
            args[:0] = ["--run-dir", str(run_dir)]
        if defined_dir is not None:
            args[:0] = ["--defined-dir", str(defined_dir)]
        raise typer.Exit(run(args))
