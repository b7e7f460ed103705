"""Speed work must not change a decision: every field of `peakshop scaler simulate --json`
(but the time it took), for every policy on both seasons and the flash sale, with and
without the announced events, noiseless and with per-second arrival noise, with and without
a previous season for the forecast.

    python -m benchmarks.simulate_identity --save before.json    # on the old code
    python -m benchmarks.simulate_identity --compare before.json # on the new: exit 1 if any
                                                                 # field differs
    [--trace NAME ...] [--policy NAME ...]   # a subset

Each run goes through the CLI command itself (click's test runner, in-process), so what is
compared is exactly what users read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from click.testing import CliRunner

from scaler.simulate.command import simulate
from scaler.simulate.run import POLICY_NAMES

TRACES_DIR = Path(__file__).resolve().parents[1] / "traces"
TRACES = ("season-2023", "season-2024", "flash-sale-10min")
# The noisy platform docs/simulation.md measures (the live push's rule on Poisson arrivals).
NOISE = {"noiseless": [], "noisy": ["--arrival-noise", "1", "--push-at", "0.92",
                                    "--push-noise-sd", "1.75"]}
UNTIMED = "simulated_in_s"


def cases(traces, policies):
    """(key, CLI arguments) of every combination checked."""
    for name in traces:
        for events in (False, True):
            for noise, noise_flags in NOISE.items():
                histories = [None]
                if name == "season-2024":
                    histories.append("season-2023")
                for history in histories:
                    for policy in policies:
                        arguments = ["--trace", str(TRACES_DIR / f"{name}.csv"),
                                     "--policy", policy, "--json", *noise_flags]
                        if events:
                            arguments += ["--events", str(TRACES_DIR / f"{name}.events.csv")]
                        if history:
                            arguments += ["--history", str(TRACES_DIR / f"{history}.csv")]
                        key = (f"{name} events={'yes' if events else 'no'} {noise} "
                               f"history={history or 'none'} {policy}")
                        yield key, arguments


def without_timing(summary):
    """The summary with its wall-clock field taken out, wherever it is nested."""
    if isinstance(summary, dict):
        return {key: without_timing(value) for key, value in summary.items()
                if key != UNTIMED}
    if isinstance(summary, list):
        return [without_timing(value) for value in summary]
    return summary


def run_all(traces, policies) -> dict:
    runner = CliRunner()
    results = {}
    for key, arguments in cases(traces, policies):
        outcome = runner.invoke(simulate, arguments, catch_exceptions=False)
        if outcome.exit_code != 0:
            raise SystemExit(f"{key}: exit {outcome.exit_code}: {outcome.output}")
        results[key] = without_timing(json.loads(outcome.output))
        print(key, file=sys.stderr, flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--save", type=Path, help="write every run's figures here")
    action.add_argument("--compare", type=Path, help="compare every run with this file")
    parser.add_argument("--trace", action="append", choices=TRACES)
    parser.add_argument("--policy", action="append", choices=POLICY_NAMES)
    options = parser.parse_args()
    results = run_all(options.trace or TRACES, options.policy or POLICY_NAMES)
    if options.save:
        options.save.write_text(json.dumps(results, indent=1, sort_keys=True))
        print(f"{len(results)} runs saved to {options.save}")
        return
    before = json.loads(options.compare.read_text())
    differ = [key for key, figures in results.items() if before.get(key) != figures]
    missing = [key for key in results if key not in before]
    for key in differ:
        print(f"DIFFERS: {key}" + (" (not in the saved file)" if key in missing else ""))
    print(f"{len(results) - len(differ)} of {len(results)} runs identical, field by field")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
