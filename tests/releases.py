"""Verdicts recorded by libvirt release, for the fixtures' and the client corpus' manifests.

A manifest value is the same for every release, or a table by release, such as
``libvirt = { "9.0" = "rejects", "12.8" = "accepts" }``: a release's entry holds from that
release until the next recorded one.
"""

from __future__ import annotations

from typing import Any

#: The releases CI judges with: Debian 12's libvirt 9.0 and Debian sid's 12.8.
RECORDED_RELEASES = ("9.0", "12.8")

#: A manifest value: one for every release, or a table by release.
ByRelease = Any


def release_key(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


def for_release(value: ByRelease, release: tuple[int, int]) -> Any:
    """What ``value`` says for ``release`` (the newest recorded release at or below it)."""
    if not isinstance(value, dict):
        return value
    known = sorted((release_key(key), entry) for key, entry in value.items())
    fitting = [entry for key, entry in known if key <= release]
    if not fitting:
        raise AssertionError(f"nothing is recorded for libvirt {release}: {value}")
    return fitting[-1]
