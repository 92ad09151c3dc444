"""The guest harness itself: how results are read from a console, and (in a real guest) what
happens to a step that runs too long, waits in vain or fails.

The console and naming tests need no guest and run with the rest of the suite.
"""

from __future__ import annotations

import pytest
from guestlab import GuestLab, Step, parse_console

CONSOLE = (
    "[    1.2] some kernel line\r\n"
    "@@FXINIT:READY:3.10@@\r\n"
    "@@FX:abcd:BEGIN:first@@\r\n"
    "line one\r\nline two\r\n"
    "\r\n@@FX:abcd:STDERR:first@@\r\n"
    "a warning\r\n"
    "\r\n@@FX:abcd:END:first:0:3.20:3.90@@\r\n"
    "@@FX:abcd:BEGIN:second@@\r\n"
    "no newline at the end"
    "\r\n@@FX:abcd:STDERR:second@@\r\n"
    "\r\n@@FX:abcd:END:second:3:4.00:4.25@@\r\n"
    "@@FX:ffff:BEGIN:other-run@@\r\n\r\n@@FX:ffff:STDERR:other-run@@\r\n\r\n"
    "@@FX:ffff:END:other-run:0:1.0:1.0@@\r\n"
    "@@FX:abcd:BEGIN:unfinished@@\r\npartial"
)


def test_console_steps_are_read_between_markers() -> None:
    steps = parse_console(CONSOLE, "abcd")
    assert list(steps) == ["first", "second"]  # not another run's, not an unfinished one
    first, second = steps["first"], steps["second"]
    assert (first.exit_code, first.stdout, first.stderr) == (
        0,
        "line one\nline two\n",
        "a warning\n",
    )
    assert first.seconds == pytest.approx(0.7)
    assert (second.exit_code, second.stdout, second.stderr) == (3, "no newline at the end", "")


@pytest.mark.parametrize("name", ["", "-x", "two words", "a.b", "x/y"])
def test_step_names_are_file_and_event_safe(name: str) -> None:
    with pytest.raises(ValueError, match="step name"):
        Step(name, "true")


@pytest.mark.guest
def test_a_guest_reports_timeouts_vain_waits_and_exit_codes(guest_lab: GuestLab) -> None:
    xml = guest_lab.base_domain("harness")
    result = guest_lab.boot(
        xml,
        [
            Step("too-long", "echo started; sleep 60", timeout=2),
            Step("in-vain", "echo never", after="nobody.nothing", timeout=1),
            Step("fails", "printf out; echo err >&2; exit 7"),
            Step("product", 'echo "$PYTHONPATH"; famfs-xml nonsense'),
        ],
        timeout=240,
    )
    assert result.start_error is None, result.start_error
    assert result.finished, result.diagnosis()
    assert result.ready_seconds is not None and result.ready_seconds < result.seconds
    assert (result["too-long"].exit_code, result["too-long"].stdout) == (124, "started\n")
    assert result["in-vain"].exit_code == 124
    assert result["in-vain"].stdout == ""
    assert "waited 1 s for nobody.nothing in vain" in result["in-vain"].stderr
    fails = result["fails"]
    assert (fails.exit_code, fails.stdout, fails.stderr) == (7, "out", "err\n")
    # famfs-xml inside the guest is the checkout under test, and fails without a traceback
    product = result["product"]
    assert product.exit_code == 2, product
    assert product.stdout == f"{guest_lab.repo}\n"
    assert "Traceback" not in product.stderr
