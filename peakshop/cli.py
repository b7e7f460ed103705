"""The `peakshop` command line: one group, each subcommand imported only when it runs."""

from __future__ import annotations

import click

from common.lazycli import LazyGroup


class OneLineUsageErrors(LazyGroup):
    """A subcommand's bad flag or value prints one `Error: ...` line (exit 2), without
    click's usage block: the line names the flag and what it takes, `--help` the rest."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:
            raise  # a group called bare (`peakshop db`): its help is the answer
        except click.UsageError as error:
            error.ctx = None  # click prints the usage block only when it knows the context
            raise


@click.group(cls=OneLineUsageErrors, lazy_subcommands={
    "serve": "shop.cli:serve",
    "db": "shop.cli:db",
    "worker": "shop.orders.worker_command:worker_command",
    "scaler": "scaler.cli:scaler",
    "rehearse": "loadtests.rehearse:rehearse_command",
    "up": "peakshop.up:up_command",
    "incident": "shop.status.cli:incident",
    "backup": "shop.backup.cli:backup_command",
    "restore": "shop.backup.cli:restore_command",
    "drill": "shop.backup.cli:drill_command",
    "images": "shop.images.cli:images",
    "gate": "shop.edge.run:gate_command",
})
@click.version_option(package_name="peakshop")
def cli() -> None:
    """peakshop: a storefront that scales before the Christmas peak."""


def main() -> None:
    cli(prog_name="peakshop")


if __name__ == "__main__":
    main()
