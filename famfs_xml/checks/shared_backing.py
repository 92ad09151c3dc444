"""FX501: domains linted together that share one backing device must agree about it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

from famfs_xml import units
from famfs_xml.checks.base import RuleContext
from famfs_xml.domain import MemoryDevice
from famfs_xml.findings import Finding


class _Use(NamedTuple):
    ctx: RuleContext
    device: MemoryDevice


def _size(value: object) -> str:
    return "none" if value is None else units.human(int(value))  # type: ignore[call-overload]


_ASPECTS: tuple[tuple[str, Callable[[MemoryDevice], object], Callable[[object], str]], ...] = (
    ("target size", lambda d: None if d.size is None else d.size.bytes, _size),
    ("alignsize", lambda d: None if d.alignsize is None else d.alignsize.bytes, _size),
    ("pmem", lambda d: d.pmem, lambda v: "yes" if v else "no"),
    ("label size", lambda d: None if d.label is None else d.label.bytes, _size),
    ("access", lambda d: d.access, lambda v: "unset" if v is None else str(v)),
)


def check_shared_backing(contexts: Sequence[RuleContext]) -> Iterator[Finding]:
    """Findings for every nvdimm whose settings differ from another domain's on the same path."""
    uses: dict[str, list[_Use]] = defaultdict(list)
    for ctx in contexts:
        for device in ctx.domain.memory_devices:
            if device.is_nvdimm and device.path:
                uses[device.path].append(_Use(ctx, device))
    for path, group in uses.items():
        if len({id(use.ctx) for use in group}) < 2:
            continue
        firsts = [_first_differing(group, value_of) for _, value_of, _ in _ASPECTS]
        for use in group:
            differences = list(_differences(use, firsts))
            if differences:
                yield use.ctx.finding(
                    "FX501",
                    use.device.element,
                    f"{path} is shared with other domains that disagree: " + "; ".join(differences),
                )


# For one aspect and each value in a group: the first use (in order) whose value differs, and
# the first after it from another domain, so that each use finds the first *other* domain
# that disagrees with it without comparing every pair.
_Firsts = dict[object, tuple[_Use | None, _Use | None]]


def _first_differing(group: list[_Use], value_of: Callable[[MemoryDevice], object]) -> _Firsts:
    values = [value_of(use.device) for use in group]
    result: _Firsts = {}
    for value in dict.fromkeys(values):
        first: _Use | None = None
        second: _Use | None = None
        for use, other in zip(group, values, strict=True):
            if other == value:
                continue
            if first is None:
                first = use
            elif use.ctx is not first.ctx:
                second = use
                break
        result[value] = (first, second)
    return result


def _differences(use: _Use, firsts: list[_Firsts]) -> Iterator[str]:
    for (name, value_of, show), table in zip(_ASPECTS, firsts, strict=True):
        mine = value_of(use.device)
        first, second = table[mine]
        other = first if first is not None and first.ctx is not use.ctx else second
        if other is not None:
            theirs = show(value_of(other.device))
            yield f"{name} {show(mine)} here, {theirs} in {other.ctx.doc.path}"
