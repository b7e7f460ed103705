"""Carts: short-lived, kept in Redis with a time to live."""
