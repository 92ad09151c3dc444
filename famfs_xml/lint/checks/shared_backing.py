"""FX501: domains of one host that share one backing device must agree about it.

The comparison works on :class:`DeviceUse` values (plain data, no document), so that a run
whose files were checked in worker processes can compare what the workers sent back.

Which uses are compared: those of one group, a backing path on one host
(:mod:`famfs_xml.lint.hosts`), or a device the configuration declares shared by several
hosts. Who is named: when more than half of a group's domains agree on a setting, only the
others (the outliers), each once, with what the majority uses; without such a majority
every domain that differs is named, since nothing tells which side is meant. A fix moves
an outlier to the majority's setting; it is safe only where the guest sees nothing change
but the agreement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import TYPE_CHECKING, NamedTuple

from famfs_xml.core import units
from famfs_xml.core.findings import Applicability, Edit, Finding, Fix
from famfs_xml.lint.access import device_access
from famfs_xml.lint.checks.backing import backing_facts, backing_kind
from famfs_xml.lint.checks.base import RuleContext
from famfs_xml.lint.domain import Domain, MemoryDevice
from famfs_xml.lint.edits import Node

if TYPE_CHECKING:
    from famfs_xml.lint.hosts import Host, HostRules

CODE = "FX501"
# The others that hold a value are named by path up to this many; beyond, only counted.
NAMED_AT_MOST = 3
MIN_LABEL = 128 * units.KiB  # libvirt refuses a smaller label


def _size(value: object) -> str:
    # exact: two sizes that disagree must never read the same
    return "none" if value is None else units.exact(int(value))  # type: ignore[call-overload]


# What is compared: a name, how to read the value from a device, how a message shows it.
_Aspect = tuple[str, Callable[[Domain, MemoryDevice], object], Callable[[object], str]]

SIZE, ALIGN, PMEM, LABEL, MAPPING = range(5)
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
    group: str = ""  # uses of one group are compared: a host's path, or a shared device
    place: str = ""  # how messages name the group ("/dev/dax1.0 on host hv1")
    ordinal: int = 0  # the device's place among its document's compared nvdimms


def group_of(host: Host, backing: str, rules: HostRules) -> tuple[str, str]:
    """The group key of ``backing`` on ``host``, and how messages name it."""
    place = backing if host.name is None else f"{backing} on host {host.name}"
    shared = rules.shared_device(host, backing)
    if shared is not None and host.name is not None:
        return f"shared\0{shared.name}", f"{place} ({shared.describe(host.name)})"
    return f"{host.key}\0{backing}", place


def compared(ctx: RuleContext) -> list[MemoryDevice]:
    """The nvdimms of ``ctx`` that FX501 compares: those with a backing path."""
    return [d for d in ctx.domain.memory_devices if d.is_nvdimm and d.path]


def device_uses(
    ctx: RuleContext, document: int, host: Host, rules: HostRules
) -> list[tuple[DeviceUse, MemoryDevice]]:
    """The nvdimms of ``ctx`` that FX501 compares, each with its device."""
    uses = []
    for ordinal, device in enumerate(compared(ctx)):
        assert device.path is not None
        group, place = group_of(host, device.path, rules)
        values = tuple(value_of(ctx.domain, device) for _, value_of, _ in _ASPECTS)
        use = DeviceUse(document, ctx.doc.path, device.path, values, group, place, ordinal)
        uses.append((use, device))
    return uses


class Verdict:
    """One use FX501 reports: its message, and the majority's value of each setting in
    which it is an outlier (what a fix may move it to). A plain class: this module is
    imported on every start, and a named tuple class costs more to make."""

    __slots__ = ("at", "message", "moves", "place")

    def __init__(
        self, at: int, message: str, moves: tuple[tuple[int, object], ...], place: str
    ) -> None:
        self.at = at  # the index of the use among those compared
        self.message = message
        self.moves = moves  # (aspect, value)
        self.place = place


# For one aspect of one group: each value, with the documents that hold it (and their paths).
_Tally = dict[object, dict[int, str]]


def disagreements(uses: Sequence[DeviceUse], *, every: bool = False) -> Iterator[Verdict]:
    """A verdict for every use that must be named: the outliers of each group, or with no
    majority (or ``every``: each use that differs from another) all that differ."""
    groups: dict[str, list[int]] = {}
    for index, use in enumerate(uses):
        groups.setdefault(use.group, []).append(index)
    for indexes in groups.values():
        if len(indexes) > 1:
            yield from _group_verdicts(uses, indexes, every)


def _group_verdicts(
    uses: Sequence[DeviceUse], indexes: list[int], every: bool
) -> Iterator[Verdict]:
    group = [uses[index] for index in indexes]
    documents = len({use.document for use in group})
    if documents < 2:
        return
    tallies = [_tally(group, aspect) for aspect in range(len(_ASPECTS))]
    differing = [aspect for aspect, tally in enumerate(tallies) if len(tally) > 1]
    if not differing:
        return
    majority = {
        aspect: None if every else _majority(tallies[aspect], documents) for aspect in differing
    }
    for index, use in zip(indexes, group, strict=True):
        parts, moves = [], []
        undecided = False
        for aspect in differing:
            mine, held = use.values[aspect], majority[aspect]
            if held is not None:
                if mine == held[0]:
                    continue
                others = [held[0]]
                moves.append((aspect, held[0]))
            else:
                others = [value for value in tallies[aspect] if value != mine]
                undecided = undecided or not every
            parts.append(_part(aspect, use, others, tallies[aspect], documents))
        if parts:
            message = f"{use.place} is shared by {documents} domains: " + "; ".join(parts)
            if undecided:
                message += " (a tie: no value is held by more than half of them)"
            yield Verdict(index, message, tuple(moves), use.place)


def _tally(group: Sequence[DeviceUse], aspect: int) -> _Tally:
    tally: _Tally = {}
    for use in group:
        tally.setdefault(use.values[aspect], {})[use.document] = use.doc_path
    return tally


def _majority(tally: _Tally, documents: int) -> tuple[object] | None:
    """The value more than half of the documents hold (in a 1-tuple: it may be None)."""
    for value, holders in tally.items():
        if len(holders) * 2 > documents:
            return (value,)
    return None


def _part(aspect: int, use: DeviceUse, others: list[object], tally: _Tally, documents: int) -> str:
    name, _, show = _ASPECTS[aspect]
    rest = documents - 1
    pieces = []
    for value in sorted(others, key=lambda value: -len(tally[value])):
        holders = [path for document, path in tally[value].items() if document != use.document]
        named = f" ({', '.join(holders)})" if len(holders) <= NAMED_AT_MOST else ""
        pieces.append(f"{show(value)} in {_among(len(holders), rest)}{named}")
    return f"{name} {show(use.values[aspect])} here, " + ", ".join(pieces)


def _among(count: int, rest: int) -> str:
    if count < rest:
        return f"{count} of the {rest} others"
    return {1: "the other", 2: "both others"}.get(rest, f"all {rest} others")


def check_shared_backing(
    contexts: Sequence[RuleContext],
    hosts: Sequence[Host],
    rules: HostRules,
    *,
    peers: Sequence[DeviceUse] = (),
    every: bool = False,
) -> Iterator[Finding]:
    """FX501 over documents checked together (``hosts``: each one's host); ``peers``: the
    uses of other documents of the run, compared with these but not reported."""
    located = [
        (ctx, use, device)
        for document, (ctx, host) in enumerate(zip(contexts, hosts, strict=True))
        for use, device in device_uses(ctx, document, host, rules)
    ]
    uses = [use for _, use, _ in located]
    own = {ctx.doc.path for ctx in contexts}
    offset = len(contexts)
    uses += [
        peer._replace(document=peer.document + offset) for peer in peers if peer.doc_path not in own
    ]
    for verdict in disagreements(uses, every=every):
        if verdict.at >= len(located):
            continue  # a peer: reported in its own run
        ctx, _, device = located[verdict.at]
        yield ctx.finding(CODE, device.element, verdict.message, fix=move_fix(ctx, device, verdict))


def move_fix(ctx: RuleContext, device: MemoryDevice, verdict: Verdict) -> Fix | None:
    """The fix that moves ``device`` to the majority's settings: the safe moves if there are
    any (the unsafe ones wait for a later pass), else the unsafe ones."""
    moves = [_move(ctx, device, aspect, value) for aspect, value in verdict.moves]
    usable = [move for move in moves if move is not None]
    safe = [move for move in usable if move[2] is Applicability.SAFE]
    chosen = safe or usable
    if not chosen:
        return None
    what = "; ".join(text for text, _, _ in chosen)
    applicability = Applicability.SAFE if safe else Applicability.UNSAFE
    note = "" if safe else " (the guest sees another device size or label area)"
    return ctx.fix(
        f"{what}, as most domains on {verdict.place} have it{note}",
        lambda: [edit for _, build, _ in chosen for edit in build()],
        applicability,
    )


_Move = tuple[str, Callable[[], list[Edit]], Applicability]


def _move(ctx: RuleContext, device: MemoryDevice, aspect: int, value: object) -> _Move | None:
    """One setting moved to ``value``; None where no move is known to be right."""
    editor = ctx.editor
    if aspect == MAPPING and value == "shared" and device.access != "shared":
        set_shared = partial(editor.set_attribute, device.element, "access", "shared")
        return "set access='shared'", lambda: [set_shared()], Applicability.SAFE
    if aspect == PMEM and value is True and device.source is not None:
        # as FX303: on a dax or pmem device <pmem/> only stops QEMU preallocating it
        safe = backing_kind(ctx, device).is_device
        add = partial(editor.insert_child, device.source, Node("pmem"))
        return "add <pmem/>", lambda: [add()], _safe_if(safe)
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    if aspect == ALIGN and device.alignsize is not None and value & (value - 1) == 0:
        align = device.alignsize
        safe = _usable(device, align.bytes) == _usable(device, value)
        build = partial(editor.set_size, align, value, "MiB")
        return f"set alignsize to {units.exact(value)}", build, _safe_if(safe)
    if aspect == LABEL and device.label is not None and value >= MIN_LABEL:
        if device.size is not None and value >= device.size.bytes:
            return None
        # QEMU keeps the label area at the end of the target: it moves with the label size
        build = partial(editor.set_size, device.label, value, "MiB")
        return f"set the label size to {units.exact(value)}", build, Applicability.UNSAFE
    if aspect == SIZE and device.size is not None and _fits(ctx, device, value):
        build = partial(editor.set_size, device.size, value, ctx.domain.memory_unit)
        return f"set the target size to {units.exact(value)}", build, Applicability.UNSAFE
    return None


def _safe_if(safe: bool) -> Applicability:
    return Applicability.SAFE if safe else Applicability.UNSAFE


def _usable(device: MemoryDevice, align: int) -> int | None:
    """What QEMU shows the guest of the nvdimm: target size minus label, aligned down."""
    if device.size is None or align <= 0:
        return None
    label = device.label.bytes if device.label is not None else 0
    return max(device.size.bytes - label, 0) // align * align


def _fits(ctx: RuleContext, device: MemoryDevice, size: int) -> bool:
    """Whether ``size`` fits the device, as far as the device facts know it."""
    facts = backing_facts(ctx, device)
    return facts is None or facts.size is None or size <= facts.size
