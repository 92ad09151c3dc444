"""Rule conditions at their edges, where libvirt's behaviour is subtle."""

from __future__ import annotations

from famfs_xml import api
from tests.samples import GUIDE_VM

NO_NUMA = GUIDE_VM.replace(
    "    <numa>\n      <cell id='0' cpus='0-1' memory='32' unit='GiB'/>\n    </numa>\n", ""
)


def codes(text: str, **kwargs: object) -> dict[str, str]:
    return {f.code: f.severity.label for f in api.lint_text(text, **kwargs)}  # type: ignore[arg-type]


def test_hotplug_without_devices_still_needs_numa() -> None:
    text = NO_NUMA.replace(
        GUIDE_VM[GUIDE_VM.index("    <!-- the shared") : GUIDE_VM.index("  </devices>")], ""
    )
    assert "FX201" in codes(text)
    fixed = api.fix_text(text).decode()
    assert "<cell id='0' cpus='0-1' memory='40' unit='GiB'/>" in fixed


def test_ppc64_needs_no_numa_for_hotplug() -> None:
    ppc = NO_NUMA.replace("arch='x86_64' machine='pc-q35-7.2'", "arch='ppc64' machine='pseries'")
    assert "FX201" not in codes(ppc)


def test_slots_missing_is_an_error_with_dimms_and_a_warning_without() -> None:
    no_slots = GUIDE_VM.replace("<maxMemory slots='2' unit='GiB'>", "<maxMemory unit='GiB'>")
    assert codes(no_slots)["FX102"] == "error"
    plain = no_slots.replace(
        GUIDE_VM[GUIDE_VM.index("    <!-- the shared") : GUIDE_VM.index("  </devices>")], ""
    )
    plain = plain.replace("memory='32' unit='GiB'", "memory='40' unit='GiB'")
    assert codes(plain)["FX102"] == "warning"


def test_nvdimm_label_is_outside_the_overlap_range() -> None:
    """libvirt's own test: 512 MiB nvdimms 510 MiB apart with a 128 KiB label do not overlap."""

    def nvdimm(path: str, slot: int, base: str) -> str:
        return (
            f"    <memory model='nvdimm' access='shared'>\n      <source>\n"
            f"        <path>{path}</path>\n        <alignsize unit='KiB'>2048</alignsize>\n"
            f"        <pmem/>\n      </source>\n      <target>\n"
            f"        <size unit='KiB'>524288</size>\n        <node>0</node>\n"
            f"        <label>\n          <size unit='KiB'>128</size>\n        </label>\n"
            f"      </target>\n      <address type='dimm' slot='{slot}' base='{base}'/>\n"
            f"    </memory>\n"
        )

    devices = GUIDE_VM[GUIDE_VM.index("    <!-- the shared") : GUIDE_VM.index("  </devices>")]
    touching = GUIDE_VM.replace(
        devices, nvdimm("/a", 0, "0x100000000") + nvdimm("/b", 1, "0x11fe00000")
    )
    touching = touching.replace("memory='32' unit='GiB'", "memory='39' unit='GiB'")
    assert "FX311" not in codes(touching)
    overlapping = touching.replace("0x11fe00000", "0x11fc00000")
    assert codes(overlapping)["FX311"] == "error"


def test_long_range_overlap_is_found_past_a_neighbour() -> None:
    def dimm(slot: int, base: str, size: int) -> str:
        return (
            f"    <memory model='dimm'>\n      <target>\n"
            f"        <size unit='GiB'>{size}</size>\n        <node>0</node>\n"
            f"      </target>\n      <address type='dimm' slot='{slot}' base='{base}'/>\n"
            f"    </memory>\n"
        )

    devices = GUIDE_VM[GUIDE_VM.index("    <!-- the shared") : GUIDE_VM.index("  </devices>")]
    text = GUIDE_VM.replace(
        devices, dimm(0, "0x100000000", 4) + dimm(1, "0x140000000", 1) + dimm(2, "0x180000000", 1)
    )
    text = text.replace("slots='2'", "slots='3'")
    found = [f for f in api.lint_text(text) if f.code == "FX311"]
    assert len(found) == 2  # both later dimms lie inside the first 4 GiB one
