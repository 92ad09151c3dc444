"""FX501: domains linted together that share one backing device must agree about it.

The comparison works on :class:`DeviceUse` values (plain data, no document), so that a run
whose files were checked in worker processes can compare what the workers sent back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

from famfs_xml.core import units
from famfs_xml.core.findings import Finding
from famfs_xml.lint.access import device_access
from famfs_xml.lint.checks.base import RuleContext
from famfs_xml.lint.domain import Domain, MemoryDevice

CODE = "FX501"


def _size(value: object) -> str:
    # exact: two sizes that disagree must never read the same
    return "none" if value is None else units.exact(int(value))  # type: ignore[call-overload]


_Aspect = tuple[str, Callable[[Domain, MemoryDevice], object], Callable[[object], str]]
_ASPECTS: tuple[_Aspect, ...] = (
    ("target size", lambda _, d: None if d.size is None else d.size.bytes, _size),
    ("alignsize", lambda _, d: None if d.alignsize is None else d.alignsize.bytes, _size),
    ("pmem", lambda _, d: d.pmem, lambda v: "yes" if v else "no"),
    ("label size", lambda _, d: None if d.label is None else d.label.bytes, _size),
    # the mapping QEMU gets, by libvirt's precedence (the device's access, its cell's
    # memAccess, <memoryBacking>): an inherited shared mapping agrees with access='shared'
    ("mapping", lambda domain, d: device_access(domain, d).mode, str),
)


class DeviceUse(NamedTuple):
    """One nvdimm with a backing path, as FX501 compares it."""

    document: int  # tells the documents of a run apart
    doc_path: str
    backing: str
    values: tuple[object, ...]  # one per aspect, in the order of _ASPECTS


def device_uses(ctx: RuleContext, document: int) -> list[tuple[DeviceUse, MemoryDevice]]:
    """The nvdimms of ``ctx`` that FX501 compares, each with its device."""
    return [
        (
            DeviceUse(
                document,
                ctx.doc.path,
                device.path,
                tuple(value_of(ctx.domain, device) for _, value_of, _ in _ASPECTS),
            ),
            device,
        )
        for device in ctx.domain.memory_devices
        if device.is_nvdimm and device.path
    ]


def disagreements(uses: Sequence[DeviceUse]) -> Iterator[tuple[int, str]]:
    """``(index in uses, message)`` for every use whose settings differ from another
    document's on the same backing path."""
    groups: dict[str, list[int]] = defaultdict(list)
    for index, use in enumerate(uses):
        groups[use.backing].append(index)
    for backing, indexes in groups.items():
        group = [uses[index] for index in indexes]
        if len({use.document for use in group}) < 2:
            continue
        firsts = [_first_differing(group, aspect) for aspect in range(len(_ASPECTS))]
        for index, use in zip(indexes, group, strict=True):
            differences = list(_differences(use, firsts))
            if differences:
                yield (
                    index,
                    f"{backing} is shared with other domains that disagree: "
                    + "; ".join(differences),
                )


def check_shared_backing(contexts: Sequence[RuleContext]) -> Iterator[Finding]:
    """Findings for every nvdimm whose settings differ from another domain's on the same path."""
    located = [
        (ctx, use, device)
        for document, ctx in enumerate(contexts)
        for use, device in device_uses(ctx, document)
    ]
    for index, message in disagreements([use for _, use, _ in located]):
        ctx, _, device = located[index]
        yield ctx.finding(CODE, device.element, message)


# For one aspect and each value in a group: the first use (in order) whose value differs, and
# the first after it from another domain, so that each use finds the first *other* domain
# that disagrees with it without comparing every pair.
_Firsts = dict[object, tuple[DeviceUse | None, DeviceUse | None]]


def _first_differing(group: list[DeviceUse], aspect: int) -> _Firsts:
    values = [use.values[aspect] for use in group]
    result: _Firsts = {}
    for value in dict.fromkeys(values):
        first: DeviceUse | None = None
        second: DeviceUse | None = None
        for use, other in zip(group, values, strict=True):
            if other == value:
                continue
            if first is None:
                first = use
            elif use.document != first.document:
                second = use
                break
        result[value] = (first, second)
    return result


def _differences(use: DeviceUse, firsts: list[_Firsts]) -> Iterator[str]:
    for aspect, ((name, _, show), table) in enumerate(zip(_ASPECTS, firsts, strict=True)):
        mine = use.values[aspect]
        first, second = table[mine]
        other = first if first is not None and first.document != use.document else second
        if other is not None:
            yield f"{name} {show(mine)} here, {show(other.values[aspect])} in {other.doc_path}"
