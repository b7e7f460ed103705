"""Merchants: companies, their collaborators and API tokens."""
