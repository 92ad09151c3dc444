"""Several libvirt daemons in one run: each a host of its own, read through libvirt's own
remote transports (``qemu+ssh://``, ``qemu+tls://``, ``qemu+unix:///system?socket=…``).

A host is named by the operator (``NAME=URI``) or by its URI: the URI's host part, or for a
local URI (no host, ``localhost``) this machine's name. FX501 compares the domains of one
host only (:mod:`famfs_xml.lint.hosts`), so two connections that name the same host would
mix two daemons' domains under one name: that is refused, with the advice to name them.

A daemon that does not answer is recorded on its host, and the others are read all the
same; the report lists the host with its error and the run ends with exit 2.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple
from urllib.parse import urlsplit

from famfs_xml.lint.hosts import HostRecord
from famfs_xml.live.connection import Hypervisor, LiveError, daemon_release
from famfs_xml.live.domains import LiveDomain, fetch

_NAMED = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)=(.+)")
_LOCAL = ("", "localhost", "127.0.0.1", "::1")


class FleetError(Exception):
    """The list of hypervisors cannot be used; the message is one line (exit 2)."""


class Target(NamedTuple):
    """One hypervisor to read: the host's name and libvirt's URI for it."""

    name: str
    uri: str


def host_name(uri: str) -> str:
    """The host a URI reaches: its host part, or for a local URI this machine's name."""
    try:
        host = urlsplit(uri).hostname or ""
    except ValueError:
        host = ""
    return socket.gethostname() if host in _LOCAL else host


def parse_target(text: str) -> Target:
    """``NAME=URI`` or ``URI``."""
    text = text.strip()
    named = _NAMED.fullmatch(text)
    if named is not None:
        return Target(named.group(1), named.group(2).strip())
    return Target(host_name(text), text)


def read_inventory(text: str, where: str) -> list[Target]:
    """The targets of a file of hypervisors: one ``[NAME=]URI`` a line; blank lines and
    lines that start with ``#`` are skipped."""
    targets = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if ":" not in stripped:
            raise FleetError(f"{where}:{number}: {stripped!r} is no libvirt URI ([NAME=]URI)")
        targets.append(parse_target(stripped))
    return targets


def targets_of(given: Iterable[str], inventory: Sequence[Target] = ()) -> list[Target]:
    """The targets of ``--connect`` values and an inventory, each URI once; two URIs of one
    host name are refused."""
    targets: dict[str, Target] = {}
    for target in [*(parse_target(text) for text in given), *inventory]:
        if not target.uri:
            raise FleetError(f"{target.name}=: no URI")
        known = targets.get(target.name)
        if known is None:
            targets[target.name] = target
        elif known.uri != target.uri:
            raise FleetError(
                f"{known.uri} and {target.uri} are both host {target.name}: name each "
                f"(NAME=URI) to read both"
            )
    return list(targets.values())


class HostDomains(NamedTuple):
    """What one hypervisor gave: its record (the error, if it gave nothing), the open
    connection (None once closed, or never made) and its domains."""

    record: HostRecord
    hypervisor: Hypervisor | None
    domains: list[LiveDomain]


def read_host(
    target: Target,
    names: Sequence[str],
    *,
    every: bool,
    to_change: bool,
    qualified: bool,
    connect: Callable[[str], Hypervisor],
    missing_ok: bool = False,
) -> HostDomains:
    """Connect to ``target`` and fetch its domains (``qualified``: shown as
    ``libvirt:HOST/NAME``); a libvirt error becomes the host's error. The connection stays
    open: the caller closes it."""
    record = HostRecord(target.name, target.uri)
    try:
        hypervisor = connect(target.uri)
    except LiveError as exc:
        record.error = str(exc)
        return HostDomains(record, None, [])
    try:
        present = names
        if missing_ok and not every:
            held = set(hypervisor.names())
            present = [name for name in names if name in held]
        domains = fetch(hypervisor, present, every=every, to_change=to_change)
        release = daemon_release(hypervisor)
    except LiveError as exc:
        hypervisor.close()
        record.error = str(exc)
        return HostDomains(record, None, [])
    if release is not None:
        record.libvirt = release
    record.domains = len(domains)
    placed = [domain.on_host(target.name, qualified=qualified) for domain in domains]
    return HostDomains(record, hypervisor, placed)


def close_all(hosts: Iterable[HostDomains]) -> None:
    for host in hosts:
        if host.hypervisor is not None:
            host.hypervisor.close()


def missing_names(names: Sequence[str], hosts: Sequence[HostDomains]) -> list[str]:
    """The names no host that answered holds."""
    found = {domain.name for host in hosts for domain in host.domains}
    return [name for name in dict.fromkeys(names) if name not in found]
