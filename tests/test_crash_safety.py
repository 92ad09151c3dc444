"""``fix`` killed at any moment leaves every file whole: its old content or its new one."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from famfs_xml.api import fix_text
from tests.conftest import REPO, run_entry_point
from tests.samples import GUIDE_VM

FILES = 200
ROUNDS = 6
# A file with several safe fixes, so that every fixed file really changes.
BEFORE = (
    GUIDE_VM.replace(" access='shared'", "")
    .replace("<pmem/>", "")
    .replace("<alignsize unit='MiB'>2</alignsize>", "")
).encode()
AFTER = fix_text(BEFORE)
TEMP_SUFFIX = ".famfs-xml.tmp"


def _reset(folder: Path) -> None:
    for index in range(FILES):
        (folder / f"vm{index:03d}.xml").write_bytes(BEFORE)


def test_sigkill_during_fix_never_leaves_a_torn_file(tmp_path: Path) -> None:
    assert AFTER != BEFORE
    folder = tmp_path / "vms"
    folder.mkdir()
    rng = random.Random(7)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    outcomes = {"killed": 0, "finished": 0}
    for _ in range(ROUNDS):
        _reset(folder)
        proc = subprocess.Popen(
            [sys.executable, "-m", "famfs_xml", "fix", str(folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        time.sleep(rng.uniform(0.05, 1.2))
        proc.send_signal(signal.SIGKILL)
        code = proc.wait(timeout=30)
        outcomes["killed" if code == -signal.SIGKILL else "finished"] += 1
        for index in range(FILES):
            content = (folder / f"vm{index:03d}.xml").read_bytes()
            assert content in (BEFORE, AFTER), f"vm{index:03d}.xml is torn"
        # A temporary file left by the kill is never a domain for a later run...
        leftovers = [p for p in folder.iterdir() if p.name.endswith(TEMP_SUFFIX)]
        assert all(p.name.startswith(".") for p in leftovers)
        if leftovers:
            lint = run_entry_point(["lint", "--format", "json", str(folder)])
            assert TEMP_SUFFIX not in lint.stdout
            for path in leftovers:  # ...and holds nothing but a prefix of the new content
                assert AFTER.startswith(path.read_bytes())
                path.unlink()
    assert outcomes["killed"] > 0, outcomes
