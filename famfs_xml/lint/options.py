"""What one lint or fix run is asked to do: the rules, the device facts, rule parameters,
whether unsafe fixes apply, the config's per-file ignores, the target libvirt release, and
how hosts are told apart.

Its own module so that the engine and the suppression layer both read it without importing
each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from famfs_xml.core.findings import Applicability, Fix
from famfs_xml.core.libvirt_version import UNKNOWN, LibvirtTarget
from famfs_xml.lint.hosts import DEFAULT_RULES, HostRules

if TYPE_CHECKING:
    from famfs_xml.core.inventory import DeviceFacts
    from famfs_xml.lint.checks.shared_backing import DeviceUse


class LintOptions(NamedTuple):
    codes: frozenset[str]
    facts: DeviceFacts | None = None
    parameters: Mapping[str, Mapping[str, Any]] = MappingProxyType({})
    unsafe_fixes: bool = False
    # Config ``per-file-ignores``: (glob, codes), matched against the path and its base name.
    per_file_ignores: tuple[tuple[str, frozenset[str]], ...] = ()
    # Codes a selector named: only their info-level findings are reported (opt-in advice).
    named: frozenset[str] = frozenset()
    # The libvirt release the rules speak of (famfs_xml.lint.libvirt_releases).
    libvirt: LibvirtTarget = UNKNOWN
    # Which host each domain belongs to, and the devices hosts share (FX501's groups).
    hosts: HostRules = DEFAULT_RULES
    # FX501 in a fix of one document at a time: the nvdimms of the run's other documents.
    peers: tuple[DeviceUse, ...] = ()
    # FX501 names every domain that differs from another, not only the outliers (the
    # start-time gate: a starting domain must agree with each running one).
    compare_every: bool = False

    def allows(self, fix: Fix) -> bool:
        if fix.applicability is Applicability.SAFE:
            return True
        return self.unsafe_fixes and fix.applicability is Applicability.UNSAFE
