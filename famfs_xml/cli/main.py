"""The ``famfs-xml`` program: libvirt's hook calls and the common ``lint`` calls without typer,
everything else with it.

libvirt runs ``famfs-xml libvirt-hook ...`` for every event of every domain, and lets most of
them through at once: that path imports nothing before :mod:`famfs_xml.cli.hook` has decided,
not even :mod:`typing` (this module imports only :mod:`sys`). A git hook or a CI gate runs
``famfs-xml lint [OPTIONS] FILE...``; importing typer costs more than the lint of a few
files, so a ``lint`` call whose options the launcher can take as typer would
(:mod:`famfs_xml.cli.plain`) goes straight to :func:`famfs_xml.cli.commands.lint`. Any other
call (``--help``, another command, an option or value the launcher leaves to typer) goes to
the typer application in :mod:`famfs_xml.cli.app`, which owns the command line and its
messages.
"""

import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the hook's path
if TYPE_CHECKING:
    from typing import NoReturn


def run(argv: list[str] | None = None) -> int:
    """Run ``famfs-xml`` and return its exit code."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["libvirt-hook"]:
        from famfs_xml.cli import hook

        if not hook.asks_for_help(args[1:]):
            return hook.run(args[1:])
    from famfs_xml.cli.plain import plain_lint

    plain = plain_lint(args)
    if plain is None:
        from famfs_xml.cli.app import run as run_cli

        return run_cli(args)
    from famfs_xml.cli import commands

    # no option parser here: every exception is an internal error
    return commands.guarded(lambda: commands.lint(plain.paths, plain.args()), lambda _: None)


def main() -> "NoReturn":
    # Start-up creates modules, classes and the rule catalog, which live as long as the
    # process: the cyclic collector's passes over them find nothing (on Python 3.14 a full
    # one falls in the middle of the imports, ~3 ms). A command switches it on where its
    # work begins (commands.start_up_done, and cli.app for typer's commands); a libvirt hook
    # call, which decides on one domain and exits, runs without it.
    import gc

    gc.disable()
    sys.exit(run())
