"""FX401-FX403: firmware, ACPI and machine type."""

from __future__ import annotations

from collections.abc import Iterator

from famfs_xml.core.findings import Edit, Finding
from famfs_xml.lint.checks.base import RuleContext
from famfs_xml.lint.edits import Node

_X86 = (None, "x86_64", "i686")  # no arch attribute: libvirt takes the host's, x86 here


def uses_efi(ctx: RuleContext) -> bool:
    os_element = ctx.domain.os
    if os_element is None:
        return False
    if os_element.get("firmware") == "efi":
        return True
    loader = next(os_element.iterchildren("loader"), None)
    return loader is not None and loader.get("type") == "pflash"


def check_firmware_efi(ctx: RuleContext) -> Iterator[Finding]:
    if uses_efi(ctx):
        return
    yield ctx.finding(
        "FX401",
        ctx.domain.os if ctx.domain.os is not None else ctx.domain.root,
        "the domain boots BIOS firmware; the older famfs guide used EFI (<os firmware='efi'>) "
        "for efi_fake_mem=, which Linux 6.11 removed: famfs itself does not need EFI",
    )


def check_efi_acpi(ctx: RuleContext) -> Iterator[Finding]:
    if not uses_efi(ctx):
        return
    features = ctx.domain.features
    has_acpi = features is not None and next(features.iterchildren("acpi"), None) is not None
    if has_acpi or ctx.domain.arch not in _X86:
        return  # libvirt asks for ACPI with UEFI on x86 only (aarch64 may boot a device tree)
    yield ctx.finding(
        "FX402",
        features if features is not None else ctx.domain.os,
        'EFI firmware without <features><acpi/>; libvirt refuses: "UEFI requires ACPI on '
        "this architecture\" (and the nvdimm's NFIT table needs ACPI)",
        fix=ctx.fix("add <acpi/> to <features>", lambda: _add_acpi(ctx)),
    )


def _add_acpi(ctx: RuleContext) -> list[Edit]:
    features = ctx.domain.features
    if features is not None:
        return [ctx.editor.insert_child(features, Node("acpi"), first=True)]
    if ctx.domain.os is None:
        return []
    return [ctx.editor.insert_after(ctx.domain.os, Node("features", children=[Node("acpi")]))]


def check_machine_q35(ctx: RuleContext) -> Iterator[Finding]:
    os_type = next(ctx.domain.os.iterchildren("type"), None) if ctx.domain.os is not None else None
    machine = os_type.get("machine") if os_type is not None else None
    if machine is not None and "q35" in machine:
        return
    shown = f"'{machine}'" if machine else "not set (QEMU's default is i440fx 'pc')"
    yield ctx.finding(
        "FX403",
        os_type if os_type is not None else ctx.domain.root,
        f"machine type is {shown}; the famfs guide uses q35",
    )
