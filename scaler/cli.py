"""`peakshop scaler ...`: the control loop and the season simulator."""

import click

from common.lazycli import LazyGroup


@click.group(cls=LazyGroup, lazy_subcommands={
    "run": "scaler.run_command:run",
    "simulate": "scaler.simulate.command:simulate",
})
def scaler() -> None:
    """Scale the web and worker Deployments ahead of the traffic."""
