"""Checkout: reserve the cart's stock, take payment, hand the order to the pipeline."""
