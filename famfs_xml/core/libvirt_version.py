"""The libvirt release a run is checked against: what rules say libvirt does depends on it.

libvirt decides several memory questions differently from release to release (9.0 refuses
memory devices without a guest NUMA cell; 12.8 adds the cell itself). A run has a *target*
release, as ruff has a target Python: given with ``--libvirt-version`` or the config key
``libvirt-version``, read from the daemon with ``--connect``, or found installed on this
machine. Where none is known, the rules say which releases do what.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_VERSION = re.compile(r"(\d{1,3})(?:\.(\d{1,3}))?(?:\.(\d{1,3}))?")


class LibvirtVersion(NamedTuple):
    """A libvirt release, compared as a tuple (``9.0 < 9.6 < 12.8``)."""

    major: int
    minor: int = 0
    micro: int = 0

    @classmethod
    def parse(cls, text: str) -> LibvirtVersion:
        """``12.8``, ``12.8.0`` or ``12``; ValueError with a one-line reason otherwise."""
        match = _VERSION.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"{text!r} is not a libvirt version (e.g. 9.0 or 12.8.0)")
        major, minor, micro = (int(part) if part else 0 for part in match.groups())
        return cls(major, minor, micro)

    @classmethod
    def from_number(cls, number: int) -> LibvirtVersion:
        """libvirt's own encoding, ``major * 1_000_000 + minor * 1000 + micro``
        (``virConnectGetLibVersion``; the library's file name uses ``major * 1000 + minor``)."""
        return cls(number // 1_000_000, number // 1000 % 1000, number % 1000)

    def __str__(self) -> str:
        if self.micro:
            return f"{self.major}.{self.minor}.{self.micro}"
        return f"{self.major}.{self.minor}"


class TargetSource:
    """Where a run's target release came from (the names the JSON and SARIF reports use)."""

    OPTION = "option"  # --libvirt-version
    CONNECT = "connect"  # the daemon that --connect reads
    CONFIG = "config"  # libvirt-version in the config file
    INSTALLED = "installed"  # the libvirt installed on this machine


class LibvirtTarget(NamedTuple):
    """The release a run is checked against, and where it came from; ``version`` None:
    unknown, and the rules say which releases do what."""

    version: LibvirtVersion | None = None
    source: str | None = None

    def report(self) -> dict[str, str | None]:
        """For the JSON and SARIF reports: the release ("12.8") and its source ("option",
        "connect", "config", "installed"); both None when unknown."""
        version = None if self.version is None else str(self.version)
        return {"version": version, "source": self.source}

    def describe(self) -> str:
        if self.version is None:
            return "libvirt version unknown"
        return f"libvirt {self.version} ({self.source})"


UNKNOWN = LibvirtTarget()
