"""``famfs-xml libvirt-hook``: the start-time gate, run by libvirt for every domain event.

libvirt calls the hook as ``famfs-xml libvirt-hook [--config FILE] [--run-dir DIR]
[--defined-dir DIR] NAME OPERATION SUB-OPERATION EXTRA`` with the domain XML on stdin. The
launcher sends such a call here without loading typer, and until the event is known to be
one the gate checks, nothing but :mod:`sys` and the gate's event test is imported: the hook
runs on every start, stop, migration and reconnect of every domain. The gate itself is
:mod:`famfs_xml.live.hook`.

Exit 0 lets libvirt go on; exit 1, with one line on stderr, refuses the start. A broken
``--config`` file refuses the start too (the operator asked for it and must hear of it);
an internal error lets the start through and says so on stderr, so that a fault in
famfs-xml never keeps virtual machines from starting.

``famfs-xml libvirt-hook --install [--hooks-dir DIR] [--config FILE] [--run-dir DIR]
[--defined-dir DIR]`` writes the hook into ``DIR/qemu.d/`` (:mod:`famfs_xml.live.wrapper`):
a shell script that lets libvirt's other events through without starting Python at all.
"""

# No ``from __future__ import annotations`` (that is an import too): typer reads the
# annotations of the command :func:`register` defines, in a scope where typer is imported.
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the hook's path
if TYPE_CHECKING:
    import typer

RUN_DIR = "/run/libvirt/qemu"  # where the system daemon keeps running domains' XML
DEFINED_DIR = "/etc/libvirt/qemu"  # and the definitions it holds
HOOKS_DIR = "/etc/libvirt/hooks"

USAGE = (
    "usage: famfs-xml libvirt-hook [--config FILE] [--run-dir DIR] [--defined-dir DIR] "
    "NAME OPERATION SUB-OPERATION EXTRA (libvirt's qemu hook; the domain XML on stdin), "
    "or famfs-xml libvirt-hook --install [--hooks-dir DIR] [--config FILE] [--run-dir DIR] "
    "[--defined-dir DIR]"
)
EXIT_LET_THROUGH, EXIT_REFUSE, EXIT_USAGE = 0, 1, 2
# The options of libvirt's call (a wrapper passes them on), and those --install also takes.
CALL_OPTIONS = ("--config", "--run-dir", "--defined-dir")
INSTALL_OPTIONS = (*CALL_OPTIONS, "--hooks-dir")


class HookCall:
    """The call libvirt made: its four arguments, after the options the wrapper gave."""

    __slots__ = ("name", "operation", "options", "sub_operation")

    def __init__(self, name: str, operation: str, sub_operation: str, options: dict[str, str]):
        self.name = name
        self.operation = operation
        self.sub_operation = sub_operation
        self.options = options  # by spelling: --config, --run-dir, --defined-dir


def parse(args: list[str]) -> "HookCall | None":
    """libvirt's call: the last four arguments, after the options of :data:`CALL_OPTIONS`;
    None for anything else.

    The four are libvirt's whatever they hold (a domain may be named ``-x``), but an
    operation and a sub-operation are words: an option there means the call is not libvirt's.
    """
    if len(args) < 4:
        return None
    name, operation, sub_operation, _extra = args[-4:]
    if operation.startswith("-") or sub_operation.startswith("-"):
        return None
    options = _options(args[:-4], CALL_OPTIONS)
    if options is None:
        return None
    return HookCall(name, operation, sub_operation, options)


def _options(args: list[str], known: tuple[str, ...]) -> "dict[str, str] | None":
    """``--option VALUE`` and ``--option=VALUE`` pairs of ``known`` options; None when
    anything else is there or a value is missing."""
    values: dict[str, str] = {}
    rest = iter(args)
    for arg in rest:
        option, equals, value = arg.partition("=")
        if option not in known:
            return None
        given = value if equals else next(rest, None)
        if not given:
            return None
        values[option] = given
    return values


def asks_for_help(args: list[str]) -> bool:
    """``--help`` (typer's to answer), unless it is one of libvirt's four arguments."""
    return parse(args) is None and not {"-h", "--help"}.isdisjoint(args)


def run(args: list[str]) -> int:
    """Run the hook; its exit code for libvirt."""
    call = parse(args)
    if call is None:
        if "--install" in args:
            return _install(args)
        _say(USAGE)
        return EXIT_USAGE
    from famfs_xml.live.hook import gated

    if not gated(call.operation, call.sub_operation):
        return EXIT_LET_THROUGH
    return _gate(call)


def _gate(call: HookCall) -> int:
    from famfs_xml.live.hook import may_have_memory_devices

    xml = sys.stdin.buffer.read()
    if not may_have_memory_devices(xml):
        return EXIT_LET_THROUGH
    try:
        reason = _refusal(call, xml)
    except _ConfigProblem as exc:
        _say(f"famfs-xml refuses to start {call.name}: {exc}")
        return EXIT_REFUSE
    except Exception as exc:
        import os

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


def _refusal(call: HookCall, xml: bytes) -> "str | None":
    from pathlib import Path

    from famfs_xml.cli.commands import Selection, UsageFailure, settings_for
    from famfs_xml.live.hook import refusal

    given = call.options.get("--config")
    config = Path(given) if given is not None else None
    # The daemon's working directory says nothing about the site: no config is searched
    # for; --config names one.
    selection = Selection(None, None, None, None, config, config is None)
    try:
        settings = settings_for(selection, (None, True, Path("/")))
    except UsageFailure as exc:
        raise _ConfigProblem(str(exc)) from None
    run_dir = Path(call.options.get("--run-dir", RUN_DIR))
    defined_dir = Path(call.options.get("--defined-dir", DEFINED_DIR))
    return refusal(call.name, xml, settings.options, run_dir, defined_dir)


def _install(args: list[str]) -> int:
    """``--install``: write the wrapper into the hooks directory."""
    import os

    from famfs_xml.live.wrapper import WrapperError, install, program

    options = _options([arg for arg in args if arg != "--install"], INSTALL_OPTIONS)
    if options is None:
        _say(USAGE)
        return EXIT_USAGE
    passed: list[str] = []
    for option in CALL_OPTIONS:
        if option in options:  # libvirtd's working directory is not ours
            passed += [option, os.path.abspath(options[option])]
    try:
        written = install(options.get("--hooks-dir", HOOKS_DIR), program(sys.executable), passed)
    except WrapperError as exc:
        _say(f"famfs-xml: error: {exc}")
        return EXIT_USAGE
    print(
        f"wrote {written}; libvirt's daemon (libvirtd, or virtqemud) reads a new hook "
        "when it starts or on SIGHUP (systemctl reload libvirtd or virtqemud)"
    )
    return EXIT_LET_THROUGH


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def register(app: "typer.Typer") -> None:
    """The command's help (the launcher runs every other ``libvirt-hook`` call itself)."""
    from pathlib import Path
    from typing import Annotated

    import typer

    @app.command(
        "libvirt-hook",
        help="libvirt's qemu hook: refuse to start a domain whose memory devices would keep it "
        "from starting or break sharing with another domain. "
        "Install it with --install (into /etc/libvirt/hooks/qemu.d/famfs-xml).",
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
        install: Annotated[
            bool,
            typer.Option(
                "--install",
                help="Write the hook into HOOKS-DIR/qemu.d/famfs-xml (with --config, "
                "--run-dir and --defined-dir as given), a wrapper that lets libvirt's other "
                "events through without starting Python; give no NAME ... EXTRA.",
            ),
        ] = False,
        hooks_dir: Annotated[
            Path | None,
            typer.Option(
                "--hooks-dir",
                metavar="HOOKS-DIR",
                help=f"With --install: libvirt's hook directory [default: {HOOKS_DIR}].",
            ),
        ] = None,
    ) -> None:
        args = [name, operation, sub_operation, extra]
        given = (
            ("--config", config),
            ("--run-dir", run_dir),
            ("--defined-dir", defined_dir),
            ("--hooks-dir", hooks_dir),
        )
        for option, value in given:
            if value is not None:
                args[:0] = [option, str(value)]
        if install:
            args[:0] = ["--install"]
        raise typer.Exit(run(args))
