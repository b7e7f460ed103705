"""The storefront benchmark on an earlier revision and on this one, side by side, in one run.

    python -m benchmarks.before_after --before db35e2b [--rounds 2] [storefront options]

The earlier revision is exported with `git archive` into a temporary folder, given this
revision's `benchmarks/storefront.py` and `benchmarks/loadgen.py` (so both are measured the
same way), and run from there: its own code serves, with this virtualenv's libraries. The
two revisions then alternate, `--rounds` times each, so another process's load falls on both
alike; every option after `--before` and `--rounds` goes to `benchmarks.storefront`
(e.g. `--database postgresql --seconds 5 --products 1 --loadgen-cpus 1`). Use
`--products 1` for a revision older than the CSV import. The table gives, for each endpoint,
the ratio to hello-world measured in the same round and the web server's CPU ms per request
(+ PostgreSQL's), the median over rounds, before -> after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEASURED_THE_SAME_WAY = ["benchmarks/storefront.py", "benchmarks/loadgen.py"]


def export(revision: str, into: Path) -> None:
    """`revision`'s tree in `into`, with this revision's benchmark files over its own."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision],
                             capture_output=True)
    if archive.returncode != 0:
        raise SystemExit(f"git archive {revision}: {archive.stderr.decode().strip()} "
                         "(give a commit of this repository, e.g. --before db35e2b)")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    for name in MEASURED_THE_SAME_WAY:
        shutil.copy(ROOT / name, into / name)


def run(tree: Path, options: list[str], out: Path) -> dict:
    """One storefront run from `tree`, its rows as `benchmarks.storefront --json` writes them."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-m", "benchmarks.storefront", *options,
                           "--json", str(out)], cwd=tree, env=env)
    if done.returncode != 0:
        raise SystemExit(f"the storefront benchmark failed in {tree} (exit {done.returncode})")
    return json.loads(out.read_text())


def medians(runs: list[dict]) -> dict[str, dict[str, float]]:
    """Per endpoint: the median ratio, web CPU ms and PostgreSQL CPU ms over the runs."""
    by_endpoint: dict[str, list[dict]] = {}
    for result in runs:
        for row in result["rows"]:
            by_endpoint.setdefault(row["endpoint"], []).append(row)
    return {endpoint: {"ratio": statistics.median(r["ratio"] for r in rows),
                       "web": statistics.median(r["cpu_ms"]["web"] for r in rows),
                       "postgresql": statistics.median(r["cpu_ms"].get("postgresql", 0.0)
                                                       for r in rows)}
            for endpoint, rows in by_endpoint.items()}


def cell(figures: dict[str, float] | None) -> str:
    if figures is None:
        return "-"
    database = f" + {figures['postgresql']:.2f}" if figures["postgresql"] else ""
    return f"{figures['ratio']:.2f} ({figures['web']:.2f}{database} ms)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, metavar="REV",
                        help="the earlier revision (a commit of this repository)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="runs of each revision, alternating (default 2)")
    args, storefront_options = parser.parse_known_args()
    if args.rounds < 1:
        parser.error("--rounds must be 1 or more")
    with tempfile.TemporaryDirectory(prefix="peakshop-before-after-") as scratch:
        before_tree = Path(scratch) / "before"
        before_tree.mkdir()
        export(args.before, before_tree)
        results: dict[str, list[dict]] = {"before": [], "after": []}
        for round_number in range(args.rounds):
            for label, tree in (("before", before_tree), ("after", ROOT)):
                out = Path(scratch) / f"{label}-{round_number}.json"
                results[label].append(run(tree, storefront_options, out))
    before, after = medians(results["before"]), medians(results["after"])
    print(f"\n{args.before} -> this revision, median of {args.rounds} alternating rounds; "
          "ratio to hello-world in the same round (web CPU ms + PostgreSQL CPU ms per request)\n")
    print(f"{'endpoint':32} {'before':>26} {'after':>26}")
    for endpoint in after | before:
        print(f"{endpoint:32} {cell(before.get(endpoint)):>26} {cell(after.get(endpoint)):>26}")
    for label in ("before", "after"):
        p99s = [r["checkout_at_70"]["p99_ms"] for r in results[label] if r["checkout_at_70"]]
        if p99s:
            print(f"checkout p99 at 70% of its peak, {label}: "
                  + ", ".join(f"{p:.0f} ms" for p in p99s))


if __name__ == "__main__":
    main()
