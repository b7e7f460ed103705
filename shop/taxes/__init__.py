"""Taxes: the VAT included in a consumer's prices."""
