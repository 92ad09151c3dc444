"""The options of the domain commands, declared once.

Each option is an attribute of an :class:`Args` class whose annotation carries an
:class:`Opt`: its spellings and help. :mod:`famfs_xml.cli.app` builds the typer commands
from these declarations, the launcher (:mod:`famfs_xml.cli.main`) takes its vocabulary of
value-less flags from them, and the command functions receive one filled-in instance per
run. Nothing here imports typer, so the launcher's fast path can read it.
"""

# No ``from __future__ import annotations``: the fields' annotations are read at run time
# (by the launcher and by the typer command builder), and evaluating them once here is
# cheaper than resolving strings later.
import enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple, get_type_hints

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_: object) -> Any:
        return lambda cls: cls


class OutputFormat(enum.StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"
    junit = "junit"


class FailOn(enum.StrEnum):
    error = "error"
    warning = "warning"
    info = "info"


class Opt(NamedTuple):
    """How an option is spelled on the command line, and its help."""

    flags: tuple[str, ...]
    help: str
    minimum: int | None = None
    metavar: str | None = None


class Field(NamedTuple):
    """One declared option, unpacked for whoever builds a parser from it."""

    name: str
    kind: Any  # the value's type, e.g. ``bool`` or ``list[str] | None``
    default: object  # REQUIRED for an option that must be given
    opt: Opt


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


@dataclass_transform(kw_only_default=True)
class Args:
    """A command's options: annotated class attributes, their values the defaults.

    The subclasses are keyword-constructed records, as dataclasses would make them (type
    checkers see them as such), but without generating code per class: the launcher's
    fast path creates these classes on every start.
    """

    def __init__(self, **given: Any) -> None:
        names = {item.name: item.default for item in declared(type(self))}
        for name, value in given.items():
            if name not in names:
                raise TypeError(f"{type(self).__name__} has no option {name!r}")
            setattr(self, name, value)
        missing = [name for name, default in names.items() if default is REQUIRED]
        if any(name not in given for name in missing):
            raise TypeError(f"{type(self).__name__} needs {', '.join(missing)}")


_DECLARED: dict[str, tuple[Field, ...]] = {}


def declared(args_type: type) -> tuple[Field, ...]:
    """The options of a command, in declaration order (base classes first).

    ``typing.get_type_hints`` is the one reading of class annotations that every Python
    keeps working: since 3.14 they are evaluated on demand and no longer sit in the class
    ``__dict__``.
    """
    key = f"{args_type.__module__}.{args_type.__qualname__}"
    if key not in _DECLARED:
        fields = []
        for name, annotation in get_type_hints(args_type, include_extras=True).items():
            # Annotated[kind, Opt]; a field without a class attribute has no default
            default = getattr(args_type, name, REQUIRED)
            fields.append(Field(name, annotation.__origin__, default, annotation.__metadata__[0]))
        _DECLARED[key] = tuple(fields)
    return _DECLARED[key]


def plain_flags(args_type: type) -> dict[str, str]:
    """The spellings of the options that take no value, with their field names."""
    return {
        spelling: item.name
        for item in declared(args_type)
        if item.kind is bool
        for spelling in item.opt.flags
    }


DIFF = Opt(("--diff",), "Print a unified diff instead of writing; exit 1 if anything would change.")


class RuleArgs(Args):
    """Choosing rules and device facts: every command that lints domains."""

    select: Annotated[
        list[str] | None,
        Opt(("--select",), "Rules to run: codes, prefixes (FX3), names, tags or ALL."),
    ] = None
    extend_select: Annotated[
        list[str] | None,
        Opt(("--extend-select",), "Rules to run in addition to the selection."),
    ] = None
    ignore: Annotated[list[str] | None, Opt(("--ignore",), "Rules not to run.")] = None
    # None means "not given", so that the config file's fail-on applies
    fail_on: Annotated[
        FailOn | None,
        Opt(("--fail-on",), "Lowest severity that makes the exit code 1 [default: warning]."),
    ] = None
    inventory: Annotated[
        Path | None,
        Opt(
            ("--inventory",),
            "Backing-device facts: saved daxctl/ndctl list or devices --json output.",
        ),
    ] = None
    host: Annotated[
        bool, Opt(("--host",), "Read backing-device facts from this machine (sysfs, stat).")
    ] = False
    root: Annotated[
        Path,
        Opt(("--root",), "With --host: read /sys, /proc, /etc and /boot under this directory."),
    ] = Path("/")
    connect: Annotated[
        list[str] | None,
        Opt(
            ("--connect", "-c"),
            "Work on the domains of this libvirt (e.g. qemu:///system) instead of files: "
            "name them, or give --all. Repeat it for several hypervisors (lint, fix); "
            "NAME=URI names the host.",
            metavar="[NAME=]URI",
        ),
    ] = None
    hypervisors: Annotated[
        Path | None,
        Opt(
            ("--hypervisors",),
            "A file of libvirt URIs, one [NAME=]URI a line (# comments): as many --connect.",
            metavar="FILE",
        ),
    ] = None
    all_domains: Annotated[bool, Opt(("--all",), "With --connect: every domain libvirt holds.")] = (
        False
    )

    @property
    def live(self) -> bool:
        """Whether the domains come from libvirt (``--connect``, ``--hypervisors``)."""
        return bool(self.connect) or self.hypervisors is not None

    libvirt_version: Annotated[
        str | None,
        Opt(
            ("--libvirt-version",),
            "The libvirt release the rules speak of, e.g. 12.8 [default: the daemon of "
            "--connect, else the config's libvirt-version, else the libvirt installed here].",
            metavar="X.Y",
        ),
    ] = None


class CheckArgs(RuleArgs):
    """What ``lint`` and ``fix`` share beyond the rule choice: reports and configuration."""

    output_format: Annotated[
        OutputFormat | None,
        Opt(("--format",), "Output format [default: text; github when GITHUB_ACTIONS=true]."),
    ] = None
    output: Annotated[Path | None, Opt(("--output",), "Write the report here.")] = None
    statistics: Annotated[
        bool, Opt(("--statistics",), "Show a count per rule instead of each finding.")
    ] = False
    config_file: Annotated[
        Path | None,
        Opt(("--config",), "Use this config file instead of the nearest .famfs-xml.toml."),
    ] = None
    isolated: Annotated[bool, Opt(("--isolated",), "Ignore every config file.")] = False
    only_domains: Annotated[
        bool,
        Opt(
            ("--only-domains",),
            "Skip files whose root is not <domain> silently, as a directory scan does "
            "(for git hooks that see networks/ and other libvirt XML).",
        ),
    ] = False
    libvirt_schemas: Annotated[
        Path | None,
        Opt(("--libvirt-schemas",), "libvirt's schema directory (or domain.rng); turns on FX901."),
    ] = None
    verbose: Annotated[bool, Opt(("-v", "--verbose"), "Say which rules were skipped.")] = False


class LintArgs(CheckArgs):
    """The options of ``famfs-xml lint``."""

    exit_zero: Annotated[bool, Opt(("--exit-zero",), "Exit 0 even when findings remain.")] = False
    jobs: Annotated[
        int,
        Opt(
            ("--jobs", "-j"),
            "Processes that lint, this one included; 0 (the default): one per core from 300 "
            "files on, else 1.",
            minimum=0,
        ),
    ] = 0


class FixArgs(CheckArgs):
    """The options of ``famfs-xml fix``."""

    unsafe_fixes: Annotated[
        bool, Opt(("--unsafe-fixes",), "Also apply fixes that change what the guest sees.")
    ] = False
    diff: Annotated[bool, DIFF] = False
    exit_non_zero_on_fix: Annotated[
        bool,
        Opt(
            ("--exit-non-zero-on-fix",),
            "Exit 1 when a file was changed, even if nothing remains (for git hooks).",
        ),
    ] = False
    show_fixes: Annotated[bool, Opt(("--show-fixes",), "List the fixes applied to each file.")] = (
        False
    )


class DetachArgs(RuleArgs):
    """The options of ``famfs-xml detach``; attach adds the device's settings."""

    source: Annotated[
        str,
        Opt(
            ("--source",), "The shared backing path on the host, e.g. /dev/dax1.0.", metavar="PATH"
        ),
    ]
    diff: Annotated[bool, DIFF] = False


class AttachArgs(DetachArgs):
    """The options of ``famfs-xml attach``."""

    size: Annotated[
        str | None,
        Opt(
            ("--size",),
            "Device size: 8G, 8GiB, 8192MiB or bytes (default: from the inventory or host, "
            "else from domains that already use the device).",
            metavar="SIZE",
        ),
    ] = None
    node: Annotated[int, Opt(("--node",), "Guest NUMA cell for the device.", metavar="N")] = 0
    label: Annotated[
        str | None, Opt(("--label",), "Label size (default 16MiB).", metavar="SIZE")
    ] = None
    align: Annotated[
        str | None,
        Opt(
            ("--align",),
            "alignsize (default: the device's alignment, else 2MiB).",
            metavar="SIZE",
        ),
    ] = None
    slot: Annotated[
        int | None, Opt(("--slot",), "dimm slot (default: the lowest free one).", metavar="N")
    ] = None
