"""What ``/etc/default/grub`` asks for, and the command that makes it live on this distro."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from famfs_xml.host.cmdline import split_cmdline, unescape
from famfs_xml.host.sysfs import read_attr, under

GRUB_DEFAULTS = "/etc/default/grub"
_ASSIGNMENT = re.compile(r"\s*(?:export\s+)?([A-Z_][A-Z0-9_]*)=(.*)")
_GRUBENV_FILES = ("/boot/grub2/grubenv", "/boot/grub/grubenv")
_GENERATED = ("/boot/grub2/grub.cfg", "/boot/grub/grub.cfg")
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


@dataclass(frozen=True)
class GrubDefaults:
    """The kernel parameters ``/etc/default/grub`` configures, and whether it uses BLS.

    ``from_env`` maps a parameter whose value is a grub variable (the famfs guide's
    ``memmap=$memmap_val``) to that variable and the grub environment file that holds it.
    """

    params: tuple[str, ...]
    bls: bool
    from_env: tuple[tuple[str, str, str], ...] = ()  # (parameter, variable, grubenv file)

    def env_origin(self, param: str) -> tuple[str, str] | None:
        """``(variable, grubenv file)`` when ``param`` came from the grub environment."""
        for text, variable, path in self.from_env:
            if unescape(text) == unescape(param):
                return variable, path
        return None


def _shell_value(raw: str) -> str:
    """The value of a ``KEY=...`` shell assignment, quotes and backslashes removed as sh does."""
    out: list[str] = []
    quote = ""
    index = 0
    while index < len(raw):
        char = raw[index]
        nxt = raw[index + 1] if index + 1 < len(raw) else ""
        if quote == "'":
            quote, keep = ("", "") if char == "'" else (quote, char)
        elif char == "\\" and nxt and (not quote or nxt in '$`"\\'):
            keep, index = nxt, index + 1
        elif char in "'\"" and quote in ("", char):
            quote, keep = ("" if quote else char), ""
        elif char == "#" and not quote and (not out or out[-1].isspace()):
            break
        else:
            keep = char
        out.append(keep)
        index += 1
    return "".join(out).strip()


def _grubenv(root: Path) -> tuple[dict[str, str], str]:
    """The grub environment block's variables, and its file."""
    for name in _GRUBENV_FILES:
        text = read_attr(under(root, name))
        if text is not None:
            pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
            env = {key.strip(): value.strip() for key, value in pairs if not key.startswith("#")}
            return env, name
    return {}, _GRUBENV_FILES[0]


def _variable(param: str) -> str | None:
    """``memmap_val`` for ``memmap=$memmap_val`` (or ``\\$memmap_val``, ``${memmap_val}``)."""
    _, sep, value = param.partition("=")
    match = _VARIABLE.fullmatch(value.replace("\\$", "$"))
    return match.group(1) if sep and match else None


def _expand(param: str, env: dict[str, str]) -> str:
    """``memmap=$memmap_val`` with the value stored by ``grub2-editenv``."""
    variable = _variable(param)
    if variable is not None and variable in env:
        return f"{param.partition('=')[0]}={env[variable]}"
    return param


def read_grub_defaults(root: Path) -> GrubDefaults | None:
    text = read_attr(under(root, GRUB_DEFAULTS))
    if text is None:
        return None
    values: dict[str, str] = {}
    for line in text.splitlines():
        match = _ASSIGNMENT.match(line)
        if match:
            values[match.group(1)] = _shell_value(match.group(2))
    env, env_file = _grubenv(root)
    words = split_cmdline(
        values.get("GRUB_CMDLINE_LINUX", "") + " " + values.get("GRUB_CMDLINE_LINUX_DEFAULT", "")
    )
    words = [word for word in words if not word.startswith("$")]
    params = tuple(_expand(word, env) for word in words)
    from_env = tuple(
        (_expand(word, env), variable, env_file)
        for word in words
        if (variable := _variable(word)) is not None and variable in env
    )
    bls = values.get("GRUB_ENABLE_BLSCFG", "").lower() == "true"
    return GrubDefaults(params, bls, from_env)


# --- distribution -------------------------------------------------------------------------


@dataclass(frozen=True)
class OsRelease:
    ids: tuple[str, ...]  # ID first, then ID_LIKE
    version: tuple[int, ...]


def read_os_release(root: Path) -> OsRelease:
    text = (
        read_attr(under(root, "/etc/os-release"))
        or read_attr(under(root, "/usr/lib/os-release"))
        or ""
    )
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip().strip("\"'")
    ids = (fields.get("ID", "").lower(), *fields.get("ID_LIKE", "").lower().split())
    version = tuple(int(n) for n in re.findall(r"\d+", fields.get("VERSION_ID", ""))[:2])
    return OsRelease(tuple(i for i in ids if i), version)


def regenerate_command(
    os_release: OsRelease, grub: GrubDefaults | None, args: str = "", remove: str = ""
) -> str:
    """The command that makes kernel arguments live in the boot configuration.

    Only ``grubby`` takes the arguments themselves (``args`` to add, ``remove`` to drop);
    the others regenerate the configuration from ``/etc/default/grub``.
    """
    if os_release.ids[:1] == ("fedora",) and os_release.version[:1] >= (34,):
        return "grub2-mkconfig -o /boot/grub2/grub.cfg"
    if grub is not None and grub.bls:
        parts = ["grubby --update-kernel=ALL"]
        parts += [f'--remove-args="{remove}"'] if remove else []
        parts += [f'--args="{args}"'] if args else []
        return " ".join(parts)
    if {"debian", "ubuntu"} & set(os_release.ids):
        return "update-grub"
    return "grub-mkconfig -o /boot/grub/grub.cfg"


def _command(root: Path, args: str = "", remove: str = "") -> str:
    return regenerate_command(read_os_release(root), read_grub_defaults(root), args, remove)


def kernel_args_hint(root: Path, args: str, edit: str | None = None, remove: str = "") -> str:
    """How to get ``args`` onto the kernel command line (instead of ``remove``).

    ``edit`` says what to change in ``/etc/default/grub``; by default, add ``args``.
    """
    command = _command(root, args, remove)
    if command.startswith("grubby"):
        return f"{command}, then reboot"
    edit = edit or f"add {args} to GRUB_CMDLINE_LINUX in {GRUB_DEFAULTS}"
    return f"{edit}, run {command}, then reboot"


def removal_hint(root: Path, param: str) -> str:
    """For a running parameter that ``/etc/default/grub`` no longer has."""
    return f"{GRUB_DEFAULTS} no longer has {param}: run {_command(root, remove=param)}, then reboot"


def pending_hint(root: Path, param: str) -> str:
    """For a configured parameter the kernel lacks: reboot, or regenerate then reboot."""
    for name in _GENERATED:
        text = read_attr(under(root, name))
        if text is not None and param in text:
            return f"{name} already has {param}: reboot to apply it"
    entries = under(root, "/boot/loader/entries")
    if entries.is_dir():
        for entry in sorted(entries.glob("*.conf")):
            if param in (read_attr(entry) or ""):
                return f"the boot entries already have {param}: reboot to apply it"
    return f"run {_command(root, args=param)}, then reboot"
