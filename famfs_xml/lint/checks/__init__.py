"""The rule registry: one check function per code (yamllint's explicit-registry style).

Load-time problems (FX001 syntax, FX003, FX004) are decided by the engine; FX501 is a
cross-file check that runs after every file of a run is loaded.
"""

from __future__ import annotations

from famfs_xml.lint.checks import (
    document_rules,
    firmware_rules,
    memory_rules,
    numa_rules,
    nvdimm_rules,
    schema_rules,
)
from famfs_xml.lint.checks.base import Check, RuleContext
from famfs_xml.lint.checks.shared_backing import check_shared_backing

DOCUMENT_CHECKS: dict[str, Check] = {
    "FX001": document_rules.check_xml_syntax,
    "FX002": document_rules.check_unbound_qemu_prefix,
    "FX005": document_rules.check_qemu_namespace_missing,
    "FX101": memory_rules.check_maxmemory_missing,
    "FX102": memory_rules.check_maxmemory_slots,
    "FX103": memory_rules.check_maxmemory_too_small,
    "FX104": memory_rules.check_memory_total,
    "FX105": memory_rules.check_current_memory,
    "FX106": memory_rules.check_decimal_unit,
    "FX107": memory_rules.check_memory_alignment,
    "FX108": memory_rules.check_memory_size_missing,
    "FX201": numa_rules.check_numa_missing,
    "FX202": numa_rules.check_numa_includes_devices,
    "FX203": numa_rules.check_numa_cpus,
    "FX204": numa_rules.check_numa_cell_ids,
    "FX205": numa_rules.check_numa_without_cells,
    "FX206": numa_rules.check_numa_distances,
    "FX207": numa_rules.check_hugepage_nodesets,
    "FX208": numa_rules.check_numatune_memnodes,
    "FX301": nvdimm_rules.check_access,
    "FX302": nvdimm_rules.check_alignsize,
    "FX303": nvdimm_rules.check_pmem,
    "FX304": nvdimm_rules.check_label,
    "FX305": nvdimm_rules.check_size_matches_backing,
    "FX306": nvdimm_rules.check_size_alignment,
    "FX307": nvdimm_rules.check_node,
    "FX308": nvdimm_rules.check_slot,
    "FX309": nvdimm_rules.check_source_path,
    "FX310": nvdimm_rules.check_discard,
    "FX311": nvdimm_rules.check_address_overlap,
    "FX401": firmware_rules.check_firmware_efi,
    "FX402": firmware_rules.check_efi_acpi,
    "FX403": firmware_rules.check_machine_q35,
    "FX901": schema_rules.check_libvirt_schema,
}

# The checks that look at nothing but the domain's memory devices (<devices><memory>): they
# find nothing in a domain without one, so the engine runs them only where there is one
# (most domains have none, and calling a check that returns at once costs more than a
# memory device's own checks). tests/test_engine_skips.py holds them to it.
MEMORY_DEVICE_CODES = frozenset(
    {
        "FX101",
        "FX301",
        "FX302",
        "FX303",
        "FX304",
        "FX305",
        "FX306",
        "FX307",
        "FX308",
        "FX309",
        "FX310",
        "FX311",
    }
)

# The order in which the fix loop settles sizes: device sizes (and what decides whether one
# can be trusted: its unit, its alignment), then the NUMA cells, then the totals computed
# from both (maxMemory, memory, currentMemory). A pass applies the fixes of the first stage
# that has any, so that no total is ever written from a size the same run then corrects;
# fixes of codes in no stage touch no size and go in any pass. FX501 moves an outlier's
# device size (and alignment) to the majority's: a device size too.
FIX_STAGES: tuple[frozenset[str], ...] = (
    frozenset({"FX106", "FX302", "FX305", "FX501"}),
    frozenset({"FX201", "FX202"}),
    frozenset({"FX101", "FX103", "FX104", "FX105"}),
)

# Selected only when asked for: schema validation costs more than every other rule together
# and repeats `virt-xml-validate`; `--libvirt-schemas DIR` or an explicit selection turns it on.
OPT_IN_CODES = frozenset({"FX901"})

# Decided while loading the file, before any check runs.
LOAD_CODES = frozenset({"FX001", "FX003", "FX004"})
CROSS_FILE_CODES = frozenset({"FX501"})
# Decided by the engine's suppression step (famfs_xml.lint.suppressions), after every check.
SUPPRESSION_CODES = frozenset({"FX006"})


def implemented_codes() -> frozenset[str]:
    return frozenset(DOCUMENT_CHECKS) | LOAD_CODES | CROSS_FILE_CODES | SUPPRESSION_CODES


__all__ = [
    "CROSS_FILE_CODES",
    "DOCUMENT_CHECKS",
    "FIX_STAGES",
    "LOAD_CODES",
    "MEMORY_DEVICE_CODES",
    "SUPPRESSION_CODES",
    "RuleContext",
    "check_shared_backing",
    "implemented_codes",
]
