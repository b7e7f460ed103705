"""Traffic traces: `minute,rps[,orders_per_s]` or `second,rps[,orders_per_s]` CSV files."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scaler.model import MAX_RATE
from scaler.text_files import UnreadableFile, read_text

STEP_BY_UNIT = {"second": 1, "minute": 60}


class TraceFileError(ValueError):
    """A trace file that cannot be replayed; the message names the problem and the fix."""


@dataclass(frozen=True)
class Trace:
    """Arrival rates held constant for `step_s` seconds each (1 per-second, 60 per-minute)."""

    step_s: int
    rps: np.ndarray            # storefront requests/s, one value per step
    orders_per_s: np.ndarray   # orders/s into the queue, one value per step
    source: str = "<memory>"

    @property
    def duration_s(self) -> int:
        """Length of the trace in seconds."""
        return self.step_s * len(self.rps)

    def per_second(self, values: np.ndarray) -> np.ndarray:
        """Expand one value per step into one value per second."""
        return np.repeat(values, self.step_s)


def trace_from_rates(rps, orders_per_s=None, step_s: int = 60) -> Trace:
    """Build a trace from plain sequences (tests, benchmarks)."""
    rates = np.asarray(rps, dtype=float)
    orders = np.zeros_like(rates) if orders_per_s is None else np.asarray(orders_per_s, float)
    if rates.shape != orders.shape or rates.ndim != 1 or len(rates) == 0:
        raise TraceFileError("a trace needs as many order rates as request rates, at least one")
    if step_s not in STEP_BY_UNIT.values():
        raise TraceFileError(f"a trace step must be 1 or 60 seconds: got {step_s}")
    return Trace(step_s=step_s, rps=rates, orders_per_s=orders)


def load_trace(path: str | Path) -> Trace:
    """Read a trace file, or raise TraceFileError naming the line at fault and the fix."""
    path = Path(path)
    try:
        rows = list(csv.reader(io.StringIO(read_text(path, "trace file"), newline="")))
    except UnreadableFile as error:
        raise TraceFileError(str(error)) from None
    except csv.Error as error:
        raise TraceFileError(f"{path} is not a CSV file: {error}") from None
    if not rows:
        raise TraceFileError(f"{path} is empty: expected a header 'minute,rps[,orders_per_s]'")
    header = [name.strip() for name in rows[0]]
    unit = header[0] if header else ""
    optional = header[2:]
    if unit not in STEP_BY_UNIT or header[1:2] != ["rps"] or optional not in ([], ["orders_per_s"]):
        raise TraceFileError(
            f"{path}: header {','.join(header)!r} is not a trace header: "
            "use 'minute,rps[,orders_per_s]' or 'second,rps[,orders_per_s]'"
        )
    columns = len(header)
    rates, orders = [], []
    for line_number, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != columns:
            raise TraceFileError(f"{path} line {line_number}: expected {columns} values, "
                                 f"got {len(row)}")
        try:
            values = [float(cell) for cell in row]
        except ValueError:
            raise TraceFileError(f"{path} line {line_number}: not a number in {row!r}") from None
        if values[0] != len(rates):
            raise TraceFileError(
                f"{path} line {line_number}: expected {unit} {len(rates)}, got {row[0]}; "
                f"give one row per {unit}, counting from 0 without gaps"
            )
        if not all(math.isfinite(value) and 0 <= value <= MAX_RATE for value in values[1:]):
            raise TraceFileError(f"{path} line {line_number}: rates must be from 0 to "
                                 f"{MAX_RATE:g} per second")
        rates.append(values[1])
        orders.append(values[2] if columns == 3 else 0.0)
    if not rates:
        raise TraceFileError(f"{path} has a header but no rows: add at least one {unit}")
    return Trace(step_s=STEP_BY_UNIT[unit], rps=np.array(rates), orders_per_s=np.array(orders),
                 source=str(path))
