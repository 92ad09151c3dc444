"""Which hypervisor each domain belongs to, and so which domains FX501 compares.

A backing path such as ``/dev/dax1.0`` names one device only on one machine: two hosts'
``/dev/dax1.0`` are two devices that happen to share a name. FX501 therefore compares the
domains of one host only, and across hosts only for a device the configuration declares
shared (CXL memory that several hosts map, each under its own path).

* A domain read through ``--connect URI`` belongs to that connection's host.
* A file belongs to the host that the configuration's ``[hosts] path-patterns`` read from its
  path (``hosts/{host}/qemu/*.xml``). A file no pattern names belongs, by default, to its
  directory: every directory stands for a machine of its own, because libvirt keeps one
  machine's domains in one directory (``/etc/libvirt/qemu``) and a repository of several
  machines keeps each in a directory of its own. ``default = "one-host"`` takes every such
  file for one machine instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from famfs_xml.core.libvirt_version import LibvirtTarget

DIRECTORY = "directory"  # every directory is a host of its own (the default)
ONE_HOST = "one-host"  # every file no pattern names belongs to one host
DEFAULTS = (DIRECTORY, ONE_HOST)
HOST_FIELD = "{host}"


class Host:
    """The machine a domain belongs to: ``key`` tells machines apart; ``name`` is how reports
    call it, None for a machine known only as a directory of files.

    The records here are plain classes, not named tuples: a lint run imports this module
    on every start, and each named tuple class costs a tenth of a millisecond to make.
    """

    __slots__ = ("key", "name")

    def __init__(self, key: str, name: str | None = None) -> None:
        self.key = key
        self.name = name

    def __repr__(self) -> str:
        return f"Host({self.key!r}, {self.name!r})"


def named(name: str) -> Host:
    return Host(f"host:{name}", name)


class PatternError(ValueError):
    """A path pattern that cannot be used; the message says why."""


class PathPattern:
    __slots__ = ("regex", "text")

    def __init__(self, text: str, regex: re.Pattern[str]) -> None:
        self.text = text
        self.regex = regex


def compile_pattern(text: str) -> PathPattern:
    """``hosts/{host}/qemu/*.xml``: ``{host}`` (exactly once) is one path segment that names
    the host, ``*`` any part of a segment, ``?`` one character, ``**`` any number of whole
    segments; matched against the whole path, relative to the configuration's directory."""
    if text.count(HOST_FIELD) != 1:
        raise PatternError(f"{text!r} must name the host with {HOST_FIELD} exactly once")
    if text.startswith("/") or not text.strip():
        raise PatternError(f"{text!r} must be a relative path pattern")
    segments = text.split("/")
    parts: list[str] = []
    for number, segment in enumerate(segments):
        last = number == len(segments) - 1
        if segment == "**":
            parts.append(".*" if last else "(?:[^/]+/)*")
            continue
        if "**" in segment:
            raise PatternError(f"{text!r}: ** must be a whole path segment")
        if HOST_FIELD in segment and segment != HOST_FIELD and "*" in segment:
            raise PatternError(f"{text!r}: {HOST_FIELD} cannot share a segment with *")
        parts.append(_segment(segment) + ("" if last else "/"))
    return PathPattern(text, re.compile("".join(parts)))


def _segment(segment: str) -> str:
    pieces = re.split(r"(\{host\}|\*|\?)", segment)
    translated = {HOST_FIELD: "(?P<host>[^/]+)", "*": "[^/]*", "?": "[^/]"}
    return "".join(translated.get(piece, re.escape(piece)) for piece in pieces)


class SharedDevice:
    """One device that several hosts map (CXL shared memory), under its path on each."""

    __slots__ = ("name", "paths")

    def __init__(self, name: str, paths: Mapping[str, str]) -> None:
        self.name = name
        self.paths = paths  # host name -> the device's path on that host

    def describe(self, host: str) -> str:
        """The device as seen from ``host``: its name, and its paths on the other hosts."""
        others = ", ".join(f"{path} on {name}" for name, path in self.paths.items() if name != host)
        return f"shared device {self.name}, also {others}"


class HostRules:
    """How a run tells hosts apart: the configuration's ``[hosts]`` table."""

    __slots__ = ("default", "patterns", "root", "shared")

    def __init__(
        self,
        root: str | None = None,  # the directory ``patterns`` are relative to (the config's)
        patterns: tuple[PathPattern, ...] = (),
        default: str = DIRECTORY,
        shared: tuple[SharedDevice, ...] = (),
    ) -> None:
        self.root = root
        self.patterns = patterns
        self.default = default
        self.shared = shared

    def host_of(self, path: str) -> Host:
        """The host of the file ``path`` (as given on the command line; ``-`` is a file in
        the current directory)."""
        absolute = os.path.abspath(path)
        if self.patterns and self.root is not None:
            relative = os.path.relpath(absolute, self.root)
            if not relative.startswith(".."):
                relative = relative.replace(os.sep, "/")
                for pattern in self.patterns:
                    match = pattern.regex.fullmatch(relative)
                    if match is not None:
                        return named(match.group("host"))
        if self.default == ONE_HOST:
            return Host("files")
        return Host(f"dir:{os.path.dirname(absolute)}")

    def shared_device(self, host: Host, backing: str) -> SharedDevice | None:
        """The declared shared device that ``backing`` is on ``host``, if any."""
        if host.name is None or not self.shared:
            return None
        for device in self.shared:
            if device.paths.get(host.name) == backing:
                return device
        return None


DEFAULT_RULES = HostRules()


class HostRecord:
    """A host a run read domains from, as the reports list it: its name, the libvirt URI
    (None for files), the libvirt release its rules spoke of, how many domains it gave,
    and the error that kept it from giving any."""

    __slots__ = ("domains", "error", "libvirt", "name", "uri")

    def __init__(
        self,
        name: str,
        uri: str | None = None,
        libvirt: LibvirtTarget | None = None,
        domains: int = 0,
        error: str | None = None,
    ) -> None:
        self.name = name
        self.uri = uri
        self.libvirt = libvirt
        self.domains = domains
        self.error = error
