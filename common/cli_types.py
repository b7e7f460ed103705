"""Command-line value types click does not have.

click.FloatRange lets NaN through every bound (NaN compares false with all of them) and
takes `inf` and 1e300: a loop "every NaN seconds" then runs as fast as it can, and a
deadline of 1e300 s overflows the clock.
"""

from __future__ import annotations

import math
import re

import click


class FiniteFloatRange(click.FloatRange):
    """click.FloatRange for finite numbers only."""

    name = "finite float range"

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class AsciiIntRange(click.IntRange):
    """click.IntRange for plain digits only: int() also reads other scripts' digits and
    underscores, so `--metrics-port ١٢` would quietly mean port 12."""

    name = "integer range"

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not re.fullmatch(r"\s*[+-]?[0-9]+\s*", value):
            self.fail(f"{value!r} is not a whole number", param, ctx)
        return super().convert(value, param, ctx)
