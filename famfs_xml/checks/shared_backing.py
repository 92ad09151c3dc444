"""FX501: domains linted together that share one backing device must agree about it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from famfs_xml import units
from famfs_xml.checks.base import RuleContext
from famfs_xml.domain import MemoryDevice
from famfs_xml.findings import Finding


@dataclass(frozen=True)
class _Use:
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
        for use in group:
            differences = list(_differences(use, group))
            if differences:
                yield use.ctx.finding(
                    "FX501", use.device.element,
                    f"{path} is shared with other domains that disagree: "
                    + "; ".join(differences))


def _differences(use: _Use, group: list[_Use]) -> Iterator[str]:
    for name, value_of, show in _ASPECTS:
        mine = value_of(use.device)
        others = [(other, value_of(other.device)) for other in group
                  if other.ctx is not use.ctx and value_of(other.device) != mine]
        if others:
            other, value = others[0]
            yield f"{name} {show(mine)} here, {show(value)} in {other.ctx.doc.path}"
