"""What one lint or fix run is asked to do: the rules, the device facts, rule parameters,
whether unsafe fixes apply, the config's per-file ignores, and the target libvirt release.

Its own module so that the engine and the suppression layer both read it without importing
each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from famfs_xml.core.findings import Applicability, Fix
from famfs_xml.core.libvirt_version import UNKNOWN, LibvirtTarget

if TYPE_CHECKING:
    from famfs_xml.core.inventory import DeviceFacts


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

    def allows(self, fix: Fix) -> bool:
        if fix.applicability is Applicability.SAFE:
            return True
        return self.unsafe_fixes and fix.applicability is Applicability.UNSAFE
