"""A stand-in for a libvirt connection: definitions in a dict, and libvirt's habits on demand
(refusing a definition, rewriting a value silently), for the tests that need no daemon."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from famfs_xml.core.libvirt_version import LibvirtVersion
from famfs_xml.live.connection import DefineRefused, LiveError

FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures"

_NAME = re.compile(rb"<name>([^<]+)</name>")


def libvirt_copy(fixture: str, name: str) -> bytes:
    """A defect fixture as ``virsh dumpxml --inactive`` gives it: no AUTO-GENERATED header,
    and the name ``name``."""
    data = (FIXTURES / "defects" / fixture).read_bytes()
    data = data[data.index(b"<domain") :]
    return _NAME.sub(b"<name>" + name.encode() + b"</name>", data, count=1)


def name_of(xml: bytes) -> str:
    match = _NAME.search(xml)
    assert match is not None
    return match.group(1).decode()


class FakeLibvirt:
    """:class:`famfs_xml.live.connection.Hypervisor` over a dict of definitions.

    ``keep`` is what libvirt makes of a definition it accepts (by default: all of it);
    ``refuse`` returns libvirt's message for a definition it refuses, or None.
    """

    uri = "test:///fake"

    def __init__(
        self,
        definitions: dict[str, bytes],
        *,
        running: set[str] | None = None,
        transient: set[str] | None = None,
        keep: Callable[[bytes], bytes] = lambda xml: xml,
        refuse: Callable[[bytes], str | None] = lambda _xml: None,
        version: LibvirtVersion | None = None,
    ) -> None:
        self.definitions = dict(definitions)
        self.running = running or set()
        self.transient = transient or set()
        self.keep = keep
        self.refuse = refuse
        self.defined: list[bytes] = []  # every define asked for, accepted or not
        self.closed = False
        self.version = version

    def _known(self, name: str) -> None:
        if name not in self.definitions:
            raise LiveError(f"{self.uri} has no domain named {name!r}")

    def names(self) -> list[str]:
        return sorted(self.definitions)

    def definition(self, name: str) -> bytes:
        self._known(name)
        return self.definitions[name]

    def is_running(self, name: str) -> bool:
        self._known(name)
        return name in self.running

    def is_persistent(self, name: str) -> bool:
        self._known(name)
        return name not in self.transient

    def define(self, xml: bytes) -> None:
        self.defined.append(xml)
        message = self.refuse(xml)
        if message is not None:
            raise DefineRefused(message)
        self.definitions[name_of(xml)] = self.keep(xml)

    def libvirt_version(self) -> LibvirtVersion | None:
        return self.version

    def close(self) -> None:
        self.closed = True
