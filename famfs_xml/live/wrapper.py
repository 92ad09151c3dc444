"""The hook file ``famfs-xml libvirt-hook --install`` writes: a shell wrapper that answers
libvirt's other events itself and starts famfs-xml only for the one the gate checks.

libvirt runs every script in ``/etc/libvirt/hooks/qemu.d/`` for every event of every domain
(prepare, start, started, stopped, release, migrate, restore, reconnect, ...), one after
another, and waits for each. The gate only looks at ``prepare begin``
(:data:`famfs_xml.live.hook.GATED`); for any other event of libvirt's four-argument call the
wrapper exits 0 at once, as famfs-xml would, without starting Python and without reading the
domain XML on stdin. Anything else, the gated event included, goes to famfs-xml.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import tempfile
from collections.abc import Sequence

from famfs_xml.live.hook import GATED

NAME = "famfs-xml"


class WrapperError(Exception):
    """The wrapper cannot be written, or the command it would run does not work."""


def program(python: str) -> list[str]:
    """How the wrapper starts famfs-xml: with this interpreter, isolated (``-I``: no
    ``PYTHON*`` variables, no user site, no working directory on the import path, for a
    script libvirtd runs as root)."""
    return [python, "-I", "-m", "famfs_xml"]


def script(command: Sequence[str], options: Sequence[str] = ()) -> str:
    """The wrapper that runs ``command libvirt-hook OPTIONS`` for the gated event."""
    operation, sub_operation = GATED
    call = shlex.join([*command, "libvirt-hook", *options])
    # "$2:$3" starting with "-", or holding ":-", may be an option rather than libvirt's
    # call: famfs-xml decides those (and the gated event); every other four-argument call is
    # an event famfs-xml lets through without a look.
    return (
        "#!/bin/sh\n"
        "# famfs-xml's start-time gate, written by `famfs-xml libvirt-hook --install`.\n"
        "# libvirt runs it for every event of every domain; only the event the gate checks\n"
        "# starts famfs-xml, every other one is let through here, as famfs-xml would.\n"
        'if [ "$#" -eq 4 ]; then\n'
        '    case "$2:$3" in\n'
        f"        {operation}:{sub_operation} | -* | *:-*) ;;\n"
        "        *) exit 0 ;;\n"
        "    esac\n"
        "fi\n"
        f'exec {call} "$@"\n'
    )


def check(command: Sequence[str]) -> None:
    """Refuse a command that cannot start famfs-xml: the hook would refuse every start."""
    try:
        result = subprocess.run(
            [*command, "--version"], capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise WrapperError(f"cannot run {shlex.join(command)}: {exc}") from None
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise WrapperError(
            f"{shlex.join(command)} does not run famfs-xml ({lines[-1] if lines else 'no output'})"
            "; a hook that cannot start would refuse every domain"
        )


def install(hooks_dir: str, command: Sequence[str], options: Sequence[str] = ()) -> str:
    """Write the wrapper as ``HOOKS_DIR/qemu.d/famfs-xml`` (mode 0755, atomically); its path."""
    check(command)
    directory = os.path.join(hooks_dir, "qemu.d")
    target = os.path.join(directory, NAME)
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{NAME}.", dir=directory)
    except OSError as exc:
        raise WrapperError(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(script(command, options).encode())
            handle.flush()
            os.fchmod(handle.fileno(), 0o755)
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise WrapperError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target
