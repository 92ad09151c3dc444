"""The guests of the device-tool tests (``test_device_tools.py``) and what they run.

Six guests, in two waves. The first four boot together; the FH002 hint of ``dev-beyond`` is
the ``memmap=`` of ``dev-hint`` in the second wave, which ``dev-misaligned`` joins so that both
cores stay busy. Every ``famfs-xml`` call is a :meth:`Step.famfs_xml` step, and every
``ndctl``/``daxctl`` call inside is traced, so that a test can say "ran nothing".

- ``dev-labels``: 64 MiB with the guide's 16 MiB label. ``init-labels`` (the empty
  namespace of size 0), two 16 MiB fsdax namespaces, the second converted by its
  ``/dev/pmem0.1``.
- ``dev-pmem64``: 64 MiB, no label. The refusals on a raw namespace (open, as another user,
  famfs superblock), raw -> fsdax, mounted, fsdax -> devdax with data at offset 0, a 62 MiB
  dax device that holds no whole memory block, the unbound device the kernel leaves.
- ``dev-sysram``: 256 MiB, no label. raw -> devdax -> system-ram -> devdax, the namespace
  whose dax device is system RAM, auto-online memory.
- ``dev-beyond``: ``memmap=64M!2G`` with 256 MiB of RAM, next to a good ``memmap=32M!160M``:
  FH002 and its hint (which must not overlap the good range).
- ``dev-misaligned``: ``memmap=31M!161M``: the disabled namespace.
- ``dev-hint``: ``memmap=`` as the hint said, and the good range: a clean host check, two
  namespaces of the sizes asked for that work.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from guestlab import (
    DEFAULT_MODULES,
    Guest,
    GuestLab,
    GuestResult,
    Step,
    attach_domains,
    make_backing,
)

HERE = Path(__file__).resolve().parent
TRACED = ("ndctl", "daxctl")
FAMFS_MAGIC = 0x87B282FF
NOBODY = "setpriv --reuid=65534 --regid=65534 --clear-groups"
NAMESPACES = "ndctl list -N -i -v"
DAX_DEVICES = "daxctl list -i"
MARKER = "famfs-xml D7 marker at offset 0"
HINT = re.compile(r"use (memmap=(\d+[KMG])!(\d+[KMG])) instead")

# host check reads /etc/default/grub: the guest's /etc is the host's, so it looks at a root
# made of the guest's own /proc and /sys, and the host's os-release (for the hint's wording)
GUEST_ROOT = "/run/fx/guest-root"
MAKE_GUEST_ROOT = (
    f"mkdir -p {GUEST_ROOT}/etc && ln -sfn /proc {GUEST_ROOT}/proc && ln -sfn /sys "
    f"{GUEST_ROOT}/sys && ln -sfn /etc/os-release {GUEST_ROOT}/etc/os-release"
)

F = Step.famfs_xml
SYSFS_VIEW = (
    f"import sys\nsys.path.insert(0, {str(HERE)!r})\n"
    "import sysfs_view\nprint(sysfs_view.view(), end='')"
)


def convert(name: str, device: str, mode: str, *options: str) -> Step:
    return F(name, "device", "convert", device, "--mode", mode, *options)


def host_check(name: str) -> Step:
    return F(name, "host", "check", "--json", "--root", GUEST_ROOT)


def listing(suffix: str) -> list[Step]:
    """What ndctl, daxctl and famfs-xml list, and the sysfs facts behind them."""
    return [
        Step(f"ndctl-{suffix}", NAMESPACES),
        Step(f"daxctl-{suffix}", DAX_DEVICES),
        Step.python(f"sysfs-{suffix}", SYSFS_VIEW),
        F(f"devices-{suffix}", "devices", "--json"),
    ]


def dax_read(name: str, device: str = "/dev/dax0.0") -> Step:
    """Print the first bytes of a devdax device (mapped: it refuses read(2)) without NULs."""
    source = (
        "import mmap, os\n"
        f"fd = os.open({device!r}, os.O_RDONLY)\n"
        "m = mmap.mmap(fd, 2 << 20, mmap.MAP_SHARED, mmap.PROT_READ)\n"
        "print(bytes(m[:64]).rstrip(b'\\0').decode('latin-1'))"
    )
    return Step.python(name, source)


def pmem_write(text: str, device: str = "/dev/pmem0", block: int = 0) -> str:
    return (
        f"printf %s {shlex.quote(text)} | dd of={device} bs=4096 seek={block} conv=sync,notrunc"
        " oflag=direct status=none"
    )


def pmem_read(device: str = "/dev/pmem0", block: int = 0) -> str:
    return f"dd if={device} bs=4096 skip={block} count=1 iflag=direct status=none | tr -d '\\000'"


FAMFS_SUPERBLOCK = (
    "printf '" + "".join(f"\\{b:03o}" for b in FAMFS_MAGIC.to_bytes(4, "little")) + "'"
    " | dd of=/dev/pmem0 bs=4096 conv=sync,notrunc oflag=direct status=none"
)


# -- the guests ------------------------------------------------------------------------------


def labels_steps() -> list[Step]:
    return [
        *listing("raw"),
        Step(
            "init-labels",
            "ndctl disable-region region0 && ndctl init-labels nmem0"
            " && ndctl enable-region region0",
        ),
        *listing("seed"),
        F("table-seed", "devices"),
        convert("convert-seed", "namespace0.0", "fsdax", "--yes", "--force"),
        Step(
            "ndctl-convert-seed", "ndctl create-namespace --force --reconfig=namespace0.0 -m fsdax"
        ),
        Step(
            "create-two",
            "ndctl create-namespace -r region0 -m fsdax -s 16M >/dev/null"
            " && ndctl create-namespace -r region0 -m fsdax -s 16M >/dev/null",
        ),
        *listing("two"),
        Step("ndctl-enabled-two", "ndctl list -N"),
        F("table-two", "devices"),
        convert("convert-pmem0-1", "/dev/pmem0.1", "devdax", "--yes"),
        *listing("devdax-0-1"),
    ]


def pmem64_steps() -> list[Step]:
    return [
        *listing("raw"),
        Step("hold", "sleep 1000 </dev/pmem0 >/dev/null 2>&1 &\necho $! >/run/fx/holder"),
        convert("convert-open", "namespace0.0", "devdax", "--yes"),
        Step(
            "convert-not-root",
            f'{NOBODY} "$PYTHON" -m famfs_xml device convert namespace0.0 --mode devdax --yes',
        ),
        Step("release", 'kill "$(cat /run/fx/holder)"'),
        Step("famfs-superblock", FAMFS_SUPERBLOCK),
        convert("convert-famfs", "namespace0.0", "devdax", "--yes"),
        Step("wipe", "dd if=/dev/zero of=/dev/pmem0 bs=4096 count=1 oflag=direct status=none"),
        convert("convert-fsdax", "namespace0.0", "fsdax", "--yes"),
        *listing("fsdax"),
        Step(
            "mount",
            "mkfs.minix /dev/pmem0 >/dev/null && mkdir -p /run/fx/mnt"
            " && mount -t minix /dev/pmem0 /run/fx/mnt",
        ),
        convert("convert-mounted", "namespace0.0", "devdax", "--yes"),
        Step(
            "ndctl-convert-mounted",
            "ndctl create-namespace --force --reconfig=namespace0.0 --mode=devdax",
        ),
        Step("mark", f"umount /run/fx/mnt && {pmem_write(MARKER)} && {pmem_read()}"),
        convert("plan-keep", "namespace0.0", "devdax"),
        convert("convert-keep", "namespace0.0", "devdax", "--yes"),
        dax_read("read-kept"),
        *listing("devdax"),
        convert("convert-small", "dax0.0", "system-ram", "--yes", "--force"),
        Step("daxctl-small", "daxctl reconfigure-device --mode=system-ram dax0.0"),
        *listing("unbound"),
        F("table-unbound", "devices"),
        Step("guest-root", MAKE_GUEST_ROOT),
        host_check("check-unbound"),
        convert("convert-rebind", "dax0.0", "devdax", "--yes"),
        dax_read("read-rebound"),
    ]


AUTO_ONLINE = "/sys/devices/system/memory/auto_online_blocks"


def sysram_steps() -> list[Step]:
    return [
        Step("ndctl-raw", NAMESPACES),
        convert("convert-devdax", "namespace0.0", "devdax", "--yes"),
        convert("convert-system-ram", "dax0.0", "system-ram", "--yes"),
        *listing("system-ram"),
        Step("guest-root", MAKE_GUEST_ROOT),
        host_check("check-system-ram"),
        convert("convert-namespace-busy", "namespace0.0", "fsdax", "--yes"),
        Step(
            "ndctl-convert-busy",
            "ndctl create-namespace --force --reconfig=namespace0.0 --mode=fsdax",
        ),
        Step("daxctl-busy", "daxctl reconfigure-device --mode=devdax dax0.0"),
        convert("convert-online", "dax0.0", "devdax", "--yes"),
        convert("convert-offline", "dax0.0", "devdax", "--yes", "--force"),
        *listing("back"),
        Step("auto-online", f"echo online >{AUTO_ONLINE}"),
        convert("convert-auto-online", "dax0.0", "system-ram", "--yes"),
        Step("daxctl-auto-online", "daxctl reconfigure-device --mode=system-ram dax0.0"),
        host_check("check-auto-online"),
        Step("auto-offline", f"echo offline >{AUTO_ONLINE}"),
        convert("convert-namespace", "namespace0.0", "fsdax", "--yes"),
        Step("ndctl-end", NAMESPACES),
    ]


BEYOND_RAM = "memmap=64M!2G"
GOOD_RANGE = "memmap=32M!160M"  # region0 (the lower address): namespace0.0, /dev/pmem0


def write_read(text: str, device: str) -> str:
    return f"{pmem_write(text, device, block=256)}\n{pmem_read(device, block=256)}"


def beyond_steps() -> list[Step]:
    return [
        *listing("beyond"),
        Step("guest-root", MAKE_GUEST_ROOT),
        host_check("check"),
        Step("write-read", write_read("beyond RAM", "/dev/pmem1")),
        convert("convert-devdax", "namespace1.0", "devdax", "--yes"),
        *listing("beyond-devdax"),
    ]


def misaligned_steps() -> list[Step]:
    return [
        *listing("misaligned"),
        Step("device-nodes", "ls /dev/pmem* /dev/dax* 2>/dev/null; true"),
        F("table", "devices"),
        convert("convert", "namespace0.0", "fsdax", "--yes"),
        Step(
            "ndctl-convert",
            "ndctl create-namespace --force --reconfig=namespace0.0 --mode=devdax",
        ),
        Step("guest-root", MAKE_GUEST_ROOT),
        host_check("check"),
        # the one famfs-xml here that is a process of its own, to compare with the forked one
        Step("devices-process", "famfs-xml devices --json"),
    ]


def hint_steps() -> list[Step]:
    return [
        *listing("legacy"),
        Step("guest-root", MAKE_GUEST_ROOT),
        host_check("check"),
        Step("write-read-0", write_read("inside RAM 0", "/dev/pmem0")),
        Step("write-read-1", write_read("inside RAM 1", "/dev/pmem1")),
        convert("convert-devdax", "namespace0.0", "devdax", "--yes"),
        *listing("devdax"),
        host_check("check-devdax"),
    ]


def label_less(xml: str) -> str:
    """attach's nvdimm without its label: the namespace is the whole backing."""
    stripped = re.sub(r"\n\s*<label>\s*<size unit='MiB'>16</size>\s*</label>", "", xml)
    assert stripped != xml, "attach wrote no 16 MiB label"
    return stripped


def nvdimm_guest(
    lab: GuestLab,
    directory: Path,
    name: str,
    size_mib: int,
    steps: list[Step],
    *,
    labelled: bool = True,
    **base: Any,
) -> Guest:
    """``famfs-xml attach`` of a ``size_mib`` backing file to a base domain (with the
    guide's 16 MiB label, or none)."""
    backing = make_backing(directory / f"{name}.img", size_mib)
    (path,) = attach_domains(lab, directory, backing, [name], **base)
    xml = path.read_text()
    return Guest(xml if labelled else label_less(xml), steps, trace=TRACED)


def first_wave(lab: GuestLab, directory: Path) -> list[Guest]:
    minix = (*DEFAULT_MODULES, "minix")  # the mounted refusal: a file system to mount
    return [
        nvdimm_guest(
            lab, directory, "dev-pmem64", 64, pmem64_steps(), labelled=False, modules=minix
        ),
        nvdimm_guest(lab, directory, "dev-labels", 64, labels_steps()),
        nvdimm_guest(lab, directory, "dev-sysram", 256, sysram_steps(), labelled=False),
        Guest(
            lab.base_domain("dev-beyond", cmdline=f"{BEYOND_RAM} {GOOD_RANGE}"),
            beyond_steps(),
            TRACED,
        ),
    ]


def second_wave(lab: GuestLab, hint: str | None) -> list[Guest]:
    guests = [
        Guest(
            lab.base_domain("dev-misaligned", cmdline="memmap=31M!161M"), misaligned_steps(), TRACED
        )
    ]
    if hint is not None:
        domain = lab.base_domain("dev-hint", cmdline=f"{hint} {GOOD_RANGE}")
        guests.append(Guest(domain, hint_steps(), TRACED))
    return guests


def fh002_hint(result: GuestResult) -> str | None:
    """The ``memmap=`` that FH002's hint proposes in a guest, if any."""
    step = result.steps.get("check")
    try:
        findings = json.loads(step.stdout)["findings"] if step else []
    except (json.JSONDecodeError, KeyError):
        return None  # the test of the check says what went wrong
    for finding in findings:
        match = HINT.search(finding.get("hint") or "")
        if finding.get("code") == "FH002" and match:
            return match.group(1)
    return None


def boot_all(lab: GuestLab, directory: Path) -> dict[str, GuestResult]:
    results = lab.run(first_wave(lab, directory), timeout=600)
    results.update(lab.run(second_wave(lab, fh002_hint(results["dev-beyond"])), timeout=300))
    return results


# -- reading the results ---------------------------------------------------------------------


def ran(result: GuestResult, step: str, code: int = 0) -> str:
    """The step's stdout, after checking its exit code and that nothing crashed."""
    outcome = result[step]
    assert outcome.exit_code == code, outcome
    assert "Traceback" not in outcome.stderr, outcome
    return outcome.stdout


def refused(result: GuestResult, step: str) -> str:
    """A ``device convert --yes`` that refused: exit 1, no ndctl or daxctl call but the
    ``--version`` that tells what daxctl can do; its output."""
    outcome = result[step]
    assert outcome.exit_code == 1, outcome
    assert "refused to convert" in outcome.stderr, outcome
    assert [call for call in result.tool_calls(step) if call[1:] != ["--version"]] == [], outcome
    return outcome.stdout + outcome.stderr


def json_of(result: GuestResult, step: str) -> Any:
    """A step's stdout as JSON (nothing printed counts as an empty list, as ndctl prints)."""
    outcome = result[step]
    assert outcome.exit_code == 0, outcome
    return json.loads(outcome.stdout) if outcome.stdout.strip() else []


def natural(name: str) -> tuple[object, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def _dax_devices(entry: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    devices = entry.get("daxregion", {}).get("devices", [])
    return (
        list(devices)
        if devices
        else ([{"chardev": entry["chardev"]}] if "chardev" in entry else [])
    )


def expected_listing(
    namespaces: Sequence[Mapping[str, Any]],
    dax: Sequence[Mapping[str, Any]],
    regions: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What ``devices --json`` should say, from ``ndctl list -N -i -v`` and ``daxctl list
    -i``: dax devices, then pmem block devices, namespaces in natural order. A dax device of
    no namespace (a soft-reserved range's) has the region that ``regions`` gives it: ``daxctl
    list -i`` does not name it, the sysfs view does."""
    ordered = sorted(namespaces, key=lambda entry: natural(entry["dev"]))
    owner = {d["chardev"]: e for e in ordered for d in _dax_devices(e)}
    devices: list[dict[str, Any]] = []
    for device in sorted(dax, key=lambda d: natural(d["chardev"])):
        entry = owner.get(device["chardev"])
        devices.append(
            {
                "path": f"/dev/{device['chardev']}",
                "kind": "dax",
                "size": device["size"],
                "align": device["align"],
                "mode": "unbound" if device.get("state") == "disabled" else device["mode"],
                "target_node": device.get("target_node"),
                "region": (regions or {}).get(device["chardev"])
                if entry is None
                else str(entry["daxregion"]["id"]),
                "namespace": None if entry is None else entry["dev"],
            }
        )
    for entry in ordered:
        if "blockdev" in entry:
            devices.append(
                {
                    "path": f"/dev/{entry['blockdev']}",
                    "kind": "pmem",
                    "size": entry["size"],
                    "align": entry.get("align"),
                    "mode": entry["mode"],
                    "target_node": entry.get("numa_node"),
                    "region": None,
                    "namespace": entry["dev"],
                }
            )
    return {
        "devices": devices,
        "namespaces": [
            {
                "name": entry["dev"],
                "mode": entry["mode"],
                "size": entry["size"],
                "state": entry.get("state", "enabled"),
                "paths": [f"/dev/{entry[key]}" for key in ("blockdev",) if key in entry]
                + [f"/dev/{d['chardev']}" for d in _dax_devices(entry)],
            }
            for entry in ordered
        ],
    }


def shown_listing(document: Mapping[str, Any]) -> dict[str, Any]:
    """``devices --json`` in the shape of :func:`expected_listing` (absent keys as None)."""
    keys = ("path", "kind", "size", "align", "mode", "target_node", "region", "namespace")
    return {
        "devices": [{key: device.get(key) for key in keys} for device in document["devices"]],
        "namespaces": [
            {key: ns[key] for key in ("name", "mode", "size", "state", "paths")}
            for ns in document["namespaces"]
        ],
    }


def listings(result: GuestResult, suffix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what famfs-xml showed, what ndctl and daxctl say it should be) at one point."""
    shown = shown_listing(json_of(result, f"devices-{suffix}"))
    sysfs = result[f"sysfs-{suffix}"].stdout
    regions = dict(re.findall(r"^(dax\d+\.\d+)\.parent\.region (\S+)$", sysfs, re.MULTILINE))
    expected = expected_listing(
        json_of(result, f"ndctl-{suffix}"), json_of(result, f"daxctl-{suffix}"), regions
    )
    return shown, expected


def table_rows(text: str) -> list[list[str]]:
    """The rows of ``devices``'s table (header first), split on its column gaps."""
    rows = []
    for line in text.splitlines():
        if not line.strip():
            break
        rows.append(re.split(r"\s{2,}", line.strip()))
    return rows


def finding_codes(result: GuestResult, step: str) -> list[str]:
    outcome = result[step]
    assert "Traceback" not in outcome.stderr, outcome
    return [finding["code"] for finding in json.loads(outcome.stdout)["findings"]]
