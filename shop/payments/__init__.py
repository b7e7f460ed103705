"""Payments: a typed gateway contract and one module per gateway (dummy, stripe)."""
