"""Off-site backups: encrypted snapshots and WAL archives, restores, and the restore drill.

Nothing in the storefront or the worker imports this package: boto3 and cryptography are the
`backup` extra, installed where backups run (a CronJob, an operator's machine), not in every
web pod. `peakshop backup|restore|drill` reach it through the CLI's lazy subcommands.
"""
