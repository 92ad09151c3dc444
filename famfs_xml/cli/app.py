"""The ``famfs-xml`` command line declared with typer: options, help, usage errors.

The work of ``lint`` and ``fix`` is in :mod:`famfs_xml.cli.commands`; the program starts in
:mod:`famfs_xml.cli.main`, which sends plain ``lint`` calls there without loading typer.

Exit codes: 0 nothing at or above ``--fail-on`` remains; 1 findings remain (``fix --diff``:
changes would be made); 2 usage error, unreadable path, bad config or internal error, with
one line on stderr and never a traceback.
"""

# No ``from __future__ import annotations`` here: typer reads the commands' signatures on
# every start, and string annotations would cost an eval per parameter.
import enum
import gc
import inspect
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any, NoReturn

import typer

from famfs_xml import __version__
from famfs_xml.cli import commands
from famfs_xml.cli.commands import EXIT_OK, UsageFailure
from famfs_xml.cli.options import REQUIRED, FixArgs, LintArgs, RuleArgs, declared

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
    list[str] | None,
    typer.Argument(
        help="Domain XML files or directories; - for stdin. With --connect: domain names.",
        show_default=False,
    ),
]


def typer_parameters(args_type: type) -> list[inspect.Parameter]:
    """typer parameters for the options declared in :mod:`famfs_xml.cli.options`."""
    parameters = []
    for item in declared(args_type):
        extra: dict[str, Any] = {"help": item.opt.help}
        if item.opt.minimum is not None:
            extra["min"] = item.opt.minimum
        if item.opt.metavar is not None:
            extra["metavar"] = item.opt.metavar
        default = inspect.Parameter.empty if item.default is REQUIRED else item.default
        parameters.append(
            inspect.Parameter(
                item.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=default,
                annotation=Annotated[item.kind, typer.Option(*item.opt.flags, **extra)],
            )
        )
    return parameters


def command_from(
    args_type: type[RuleArgs],
    leading: Sequence[inspect.Parameter],
    run: Callable[..., int],
) -> Callable[..., None]:
    """A typer callback that takes ``leading`` parameters and the options of ``args_type``,
    and exits with ``run(*leading values, args_type(options))``."""

    def callback(**values: Any) -> None:
        # an optional list of arguments arrives as None when none is given
        first = [_given(values.pop(parameter.name)) for parameter in leading]
        raise typer.Exit(run(*first, args_type(**values)))

    signature = inspect.Signature([*leading, *typer_parameters(args_type)])
    callback.__signature__ = signature  # type: ignore[attr-defined]
    callback.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
    return callback


def _given(value: object) -> object:
    return [] if value is None else value


PATHS = inspect.Parameter(
    "paths", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=Paths
)


def _lint(paths: list[str], args: LintArgs) -> int:
    if args.live:
        from famfs_xml.cli import live

        return live.lint(paths, args)
    return commands.lint(paths, args)


def _fix(paths: list[str], args: FixArgs) -> int:
    if args.live:
        from famfs_xml.cli import live

        return live.fix(paths, args)
    return commands.fix(paths, args)


app.command(
    "lint",
    help="Check domain XML files (or with --connect, libvirt's domains) against the famfs rules.",
)(command_from(LintArgs, [PATHS], _lint))
app.command(
    "fix",
    help="Apply fixes in place (atomically); - reads stdin and writes the fixed XML to stdout. "
    "With --connect: fix libvirt's definitions through libvirt, verified after each define.",
)(command_from(FixArgs, [PATHS], _fix))


class ListFormat(enum.StrEnum):
    text = "text"
    json = "json"


@app.command("rules")
def rules_command(
    output_format: Annotated[
        ListFormat, typer.Option("--format", help="Output format.")
    ] = ListFormat.text,
) -> None:
    """List every rule: code, name, severity, fix applicability, tags and summary."""
    from famfs_xml.lint.catalog import load_catalog
    from famfs_xml.lint.rule_docs import rules_json, rules_table

    catalog = load_catalog()
    typer.echo(
        rules_json(catalog) if output_format is ListFormat.json else rules_table(catalog), nl=False
    )


@app.command()
def explain(
    rule: Annotated[str, typer.Argument(help="A rule code (FX302) or name (nvdimm-alignsize).")],
) -> None:
    """Show a rule's documentation with a bad and a good example."""
    from famfs_xml.lint.catalog import find_rule
    from famfs_xml.lint.rule_docs import explain_text

    found = find_rule(rule)
    if found is None:
        raise UsageFailure(f"unknown rule '{rule}' (see `famfs-xml rules`)")
    typer.echo(explain_text(found), nl=False)


def _register_extensions() -> None:
    """Commands that live in their own modules."""
    for module_name in ("famfs_xml.cli.devices", "famfs_xml.cli.attach", "famfs_xml.cli.hook"):
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
    gc.enable()  # off while the program started (famfs_xml.cli.main.main)

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
