"""The fleet case: ``famfs-xml lint`` of 2000 domains that share one device, four of them with
another label size (FX501 names the four), timed and weighed.

    python benchmarks/fleet.py [--checkout DIR]... [--runs N] [--count N] [--jobs N]... [--clean]

Every measurement is a fresh ``python -m famfs_xml lint --isolated TREE`` with the checkout
first on ``PYTHONPATH``; the checkouts (default: this one) and the ``--jobs`` values run
interleaved, ``--runs`` times, so that a burst of load on the machine hits each alike. The
table shows the minimum and the median wall time, and the largest peak memory (ru_maxrss of
the child; with workers, of the largest process). Give two checkouts (before and after a
change) to compare them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fleet_trees import OUTLIERS, outlier_tree  # noqa: E402


def measure(checkout: Path, tree: Path, jobs: int) -> tuple[float, int, int]:
    """Wall seconds, peak RSS (KiB) and exit code of one lint of ``tree``."""
    env = dict(os.environ, PYTHONPATH=str(checkout))
    argv = [sys.executable, "-m", "famfs_xml", "lint", "--isolated", "--jobs", str(jobs)]
    start = time.perf_counter()
    pid = os.posix_spawn(
        sys.executable,
        [*argv, str(tree)],
        env,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
        ],
    )
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    return wall, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", action="append", type=Path, default=[])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--jobs", action="append", type=int, default=[])
    parser.add_argument(
        "--clean", action="store_true", help="no outliers: every domain agrees (exit 0)"
    )
    args = parser.parse_args()
    checkouts = args.checkout or [REPO]
    jobs_values = args.jobs or [0, 1]
    with tempfile.TemporaryDirectory(prefix="famfs-xml-fleet-") as scratch:
        tree = Path(scratch) / "qemu"
        outlier_tree(tree, args.count, outliers=() if args.clean else OUTLIERS)
        walls: dict[tuple[Path, int], list[float]] = {}
        rss: dict[tuple[Path, int], list[int]] = {}
        for _ in range(args.runs):
            for checkout in checkouts:
                for jobs in jobs_values:
                    wall, peak, code = measure(checkout, tree, jobs)
                    if code != (0 if args.clean else 1):  # the outliers are findings
                        print(f"{checkout} --jobs {jobs}: exit {code}", file=sys.stderr)
                        return 2
                    walls.setdefault((checkout, jobs), []).append(wall)
                    rss.setdefault((checkout, jobs), []).append(peak)
    what = "no outliers" if args.clean else f"{len(OUTLIERS)} outliers"
    print(f"lint of {args.count} domains on one device ({what}), {args.runs} interleaved runs")
    print("| checkout | --jobs | min wall | median wall | max peak RSS |")
    print("|---|---|---|---|---|")
    for (checkout, jobs), times in walls.items():
        print(
            f"| {checkout} | {jobs} | {min(times) * 1000:.0f} ms | "
            f"{statistics.median(times) * 1000:.0f} ms | "
            f"{max(rss[(checkout, jobs)]) / 1024:.1f} MiB |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
