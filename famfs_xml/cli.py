"""The ``famfs-xml`` command line declared with typer: options, help, usage errors.

The work of ``lint`` and ``fix`` is in :mod:`famfs_xml.commands`; the program starts in
:mod:`famfs_xml.main`, which sends plain ``lint`` calls there without loading typer.

Exit codes: 0 nothing at or above ``--fail-on`` remains; 1 findings remain (``fix --diff``:
changes would be made); 2 usage error, unreadable path, bad config or internal error, with
one line on stderr and never a traceback.
"""

# No ``from __future__ import annotations`` here: typer reads the commands' signatures on
# every start, and string annotations would cost an eval per parameter.
import enum
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from famfs_xml import __version__, commands
from famfs_xml.commands import EXIT_OK, FailOn, OutputFormat, UsageFailure

_APP_SETTINGS: dict[str, Any] = {
    "name": "famfs-xml",
    "help": "Lint and fix libvirt domains that share a famfs memory device; manage dax devices.",
    "add_completion": False,
    "no_args_is_help": True,
    "pretty_exceptions_enable": False,
    "rich_markup_mode": None,
    "context_settings": {"help_option_names": ["-h", "--help"]},
}
app = typer.Typer(**_APP_SETTINGS)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"famfs-xml {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """famfs-xml: the famfs VM guide, checked and applied."""


Paths = Annotated[
    list[str],
    typer.Argument(help="Domain XML files or directories; - for stdin."),
]
Select = Annotated[
    list[str] | None,
    typer.Option("--select", help="Rules to run: codes, prefixes (FX3), names, tags or ALL."),
]
ExtendSelect = Annotated[
    list[str] | None,
    typer.Option("--extend-select", help="Rules to run in addition to the selection."),
]
Ignore = Annotated[list[str] | None, typer.Option("--ignore", help="Rules not to run.")]
FailOnOption = Annotated[
    FailOn, typer.Option("--fail-on", help="Lowest severity that makes the exit code 1.")
]
# lint and fix: None means "not given", so that the config file's fail-on applies
FailOnOverride = Annotated[
    FailOn | None,
    typer.Option(
        "--fail-on", help="Lowest severity that makes the exit code 1 [default: warning]."
    ),
]
InventoryOption = Annotated[
    Path | None,
    typer.Option(
        "--inventory",
        help="Backing-device facts: saved daxctl/ndctl list or devices --json output.",
    ),
]
FormatOption = Annotated[
    OutputFormat | None,
    typer.Option(
        "--format", help="Output format [default: text; github when GITHUB_ACTIONS=true]."
    ),
]
OutputOption = Annotated[Path | None, typer.Option("--output", help="Write the report here.")]
ExitZero = Annotated[bool, typer.Option("--exit-zero", help="Exit 0 even when findings remain.")]
HostOption = Annotated[
    bool, typer.Option("--host", help="Read backing-device facts from this machine (sysfs, stat).")
]
RootOption = Annotated[
    Path,
    typer.Option(
        "--root", help="With --host: read /sys, /proc, /etc and /boot under this directory."
    ),
]
SchemasOption = Annotated[
    Path | None,
    typer.Option(
        "--libvirt-schemas", help="libvirt's schema directory (or domain.rng); turns on FX901."
    ),
]
VerboseOption = Annotated[
    bool, typer.Option("-v", "--verbose", help="Say which rules were skipped.")
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Use this config file instead of the nearest .famfs-xml.toml."),
]
IsolatedOption = Annotated[bool, typer.Option("--isolated", help="Ignore every config file.")]
StatisticsOption = Annotated[
    bool, typer.Option("--statistics", help="Show a count per rule instead of each finding.")
]
OnlyDomainsOption = Annotated[
    bool,
    typer.Option(
        "--only-domains",
        help="Skip files whose root is not <domain> silently, as a directory scan "
        "does (for git hooks that see networks/ and other libvirt XML).",
    ),
]


@app.command()
def lint(
    paths: Paths,
    select: Select = None,
    extend_select: ExtendSelect = None,
    ignore: Ignore = None,
    fail_on: FailOnOverride = None,
    inventory: InventoryOption = None,
    host: HostOption = False,
    root: RootOption = Path("/"),
    output_format: FormatOption = None,
    output: OutputOption = None,
    exit_zero: ExitZero = False,
    statistics: StatisticsOption = False,
    config_file: ConfigOption = None,
    isolated: IsolatedOption = False,
    only_domains: OnlyDomainsOption = False,
    libvirt_schemas: SchemasOption = None,
    verbose: VerboseOption = False,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            "-j",
            min=0,
            help="Worker processes; 0 (the default): one per core from 200 files on, none below.",
        ),
    ] = 0,
) -> None:
    """Check domain XML files against the famfs rules."""
    raise typer.Exit(
        commands.lint(
            paths,
            select=select,
            extend_select=extend_select,
            ignore=ignore,
            fail_on=fail_on,
            inventory=inventory,
            host=host,
            root=root,
            output_format=output_format,
            output=output,
            exit_zero=exit_zero,
            statistics=statistics,
            config_file=config_file,
            isolated=isolated,
            only_domains=only_domains,
            libvirt_schemas=libvirt_schemas,
            verbose=verbose,
            jobs=jobs,
        )
    )


@app.command()
def fix(
    paths: Paths,
    unsafe_fixes: Annotated[
        bool,
        typer.Option("--unsafe-fixes", help="Also apply fixes that change what the guest sees."),
    ] = False,
    diff: Annotated[
        bool,
        typer.Option(
            "--diff",
            help="Print a unified diff instead of writing; exit 1 if anything would change.",
        ),
    ] = False,
    exit_non_zero_on_fix: Annotated[
        bool,
        typer.Option(
            "--exit-non-zero-on-fix",
            help="Exit 1 when a file was changed, even if nothing remains (for git hooks).",
        ),
    ] = False,
    show_fixes: Annotated[
        bool, typer.Option("--show-fixes", help="List the fixes applied to each file.")
    ] = False,
    select: Select = None,
    extend_select: ExtendSelect = None,
    ignore: Ignore = None,
    fail_on: FailOnOverride = None,
    inventory: InventoryOption = None,
    host: HostOption = False,
    root: RootOption = Path("/"),
    output_format: FormatOption = None,
    output: OutputOption = None,
    statistics: StatisticsOption = False,
    config_file: ConfigOption = None,
    isolated: IsolatedOption = False,
    only_domains: OnlyDomainsOption = False,
    libvirt_schemas: SchemasOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Apply fixes in place (atomically); - reads stdin and writes the fixed XML to stdout."""
    raise typer.Exit(
        commands.fix(
            paths,
            unsafe_fixes=unsafe_fixes,
            diff=diff,
            exit_non_zero_on_fix=exit_non_zero_on_fix,
            show_fixes=show_fixes,
            select=select,
            extend_select=extend_select,
            ignore=ignore,
            fail_on=fail_on,
            inventory=inventory,
            host=host,
            root=root,
            output_format=output_format,
            output=output,
            statistics=statistics,
            config_file=config_file,
            isolated=isolated,
            only_domains=only_domains,
            libvirt_schemas=libvirt_schemas,
            verbose=verbose,
        )
    )


class ListFormat(str, enum.Enum):
    text = "text"
    json = "json"


@app.command("rules")
def rules_command(
    output_format: Annotated[
        ListFormat, typer.Option("--format", help="Output format.")
    ] = ListFormat.text,
) -> None:
    """List every rule: code, name, severity, fix applicability, tags and summary."""
    from famfs_xml.catalog import load_catalog
    from famfs_xml.rule_docs import rules_json, rules_table

    catalog = load_catalog()
    typer.echo(
        rules_json(catalog) if output_format is ListFormat.json else rules_table(catalog), nl=False
    )


@app.command()
def explain(
    rule: Annotated[str, typer.Argument(help="A rule code (FX302) or name (nvdimm-alignsize).")],
) -> None:
    """Show a rule's documentation with a bad and a good example."""
    from famfs_xml.catalog import find_rule
    from famfs_xml.rule_docs import explain_text

    found = find_rule(rule)
    if found is None:
        raise UsageFailure(f"unknown rule '{rule}' (see `famfs-xml rules`)")
    typer.echo(explain_text(found), nl=False)


def _register_extensions() -> None:
    """Commands that live in their own modules."""
    for module_name in ("famfs_xml.cli_devices", "famfs_xml.cli_attach"):
        try:
            module = __import__(module_name, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(app)


# Commands defined in this module. Running one of them skips importing the others' modules
# (device and host tools, attach): start-up time is most of a one-file lint.
_CORE_COMMANDS = frozenset({"lint", "fix", "rules", "explain"})


def _app_for(args: list[str]) -> typer.Typer:
    """The app, or for a core command only that command under the same group: typer builds
    every registered command's parameters from its signature, a cost paid on each start."""
    if not args or args[0] not in _CORE_COMMANDS:
        _register_extensions()
        return app
    narrowed = typer.Typer(**_APP_SETTINGS)
    narrowed.registered_callback = app.registered_callback
    narrowed.registered_commands = [
        info for info in app.registered_commands if _command_name(info) == args[0]
    ]
    return narrowed


def _command_name(info: typer.models.CommandInfo) -> str:
    if info.name:
        return info.name
    assert info.callback is not None
    return info.callback.__name__.replace("_", "-")


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; every failure becomes one line on stderr."""
    args = sys.argv[1:] if argv is None else argv
    command = typer.main.get_command(_app_for(args))

    def invoke() -> int:
        code = command.main(args=argv, prog_name="famfs-xml", standalone_mode=False)
        return code if isinstance(code, int) else EXIT_OK

    return commands.guarded(invoke, _usage_message)


def _usage_message(exc: Exception) -> str | None:
    """The option parser's own words for a usage error; None for any other exception."""
    if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
        # typer 0.29+ words bad values through pydantic ("Value error, ..."); keep the
        # message the same whichever typer is installed.
        message: str = exc.format_message()
        return message.replace(": Value error, ", ": ", 1)
    return None


def main() -> NoReturn:
    sys.exit(run())
