"""Plumbing shared by every domain: settings, database, Redis, errors, metrics, logging.

Nothing in here knows a business rule.
"""
