"""The client corpus: domains as virt-install/virt-xml, Nova and oVirt write them.

Each folder of ``fixtures/clients/`` has a ``manifest.toml`` that says, per file, where it
comes from and what is expected of it (the keys are explained at the top of each manifest).
Shared by the tests with and without libvirt; it needs no libvirt.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from famfs_xml import api
from famfs_xml.core.findings import Finding, Severity
from famfs_xml.core.inventory import Inventory
from tests.releases import for_release

CLIENTS = Path(__file__).resolve().parents[2] / "fixtures" / "clients"
FOLDERS = ("virt-install", "nova", "ovirt")
# oVirt's files are linted as on an oVirt host: with its devices known.
INVENTORIES = {"ovirt": CLIENTS / "ovirt" / "inventory.json"}

KEYS = {
    "virt-install": {
        "about",
        "commands",
        "codes",
        "libvirt",
        "libvirt_message",
        "fixed_codes",
        "fixed_libvirt",
        "starts",
        "start_message",
        "known",
    },
    "nova": {
        "about",
        "source",
        "codes",
        "by_design",
        "libvirt",
        "libvirt_message",
        "fixed_libvirt",
    },
}
KEYS["ovirt"] = KEYS["nova"]


@dataclass(frozen=True)
class Client:
    """One file of the client corpus and its manifest entry."""

    folder: str
    path: Path
    entry: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.folder}/{self.path.name}"

    @property
    def facts(self) -> Inventory | None:
        inventory = INVENTORIES.get(self.folder)
        return Inventory.from_file(inventory) if inventory else None

    def at(self, key: str, release: tuple[int, int], default: Any = None) -> Any:
        """The manifest's ``key`` for libvirt ``release`` (tables by release resolved)."""
        return for_release(self.entry.get(key, default), release)

    def lint(self, data: bytes | None = None, **options: Any) -> list[Finding]:
        raw = self.path.read_bytes() if data is None else data
        return api.lint_text(raw, path=self.name, facts=self.facts, **options)

    def fixed(self, *, unsafe: bool = False) -> bytes:
        return api.fix_text(
            self.path.read_bytes(), path=self.name, facts=self.facts, unsafe_fixes=unsafe
        )


def load(folder: str) -> list[Client]:
    with (CLIENTS / folder / "manifest.toml").open("rb") as handle:
        table = tomllib.load(handle)
    return [Client(folder, CLIENTS / folder / name, dict(entry)) for name, entry in table.items()]


def load_all() -> list[Client]:
    return [client for folder in FOLDERS for client in load(folder)]


def codes(findings: list[Finding]) -> list[str]:
    return sorted({finding.code for finding in findings})


def errors(findings: list[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.severity is Severity.ERROR]


def objections(client: Client, data: bytes, release: tuple[int, int]) -> list[Finding]:
    """The errors famfs-xml reports on ``data``, speaking of libvirt ``release``: when that
    release rejects a version, there must be one."""
    return errors(client.lint(data, libvirt_version="{}.{}".format(*release)))
