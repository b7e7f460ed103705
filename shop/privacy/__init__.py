"""Shoppers' personal data: anonymised after the retention period, erased on request."""
