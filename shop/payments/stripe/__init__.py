"""Stripe: PaymentIntents confirmed at checkout, settled by signed webhooks.

`api` is the only module that calls the official SDK, `gateway` turns intents into the
payment contract's results, and `webhooks` applies Stripe's events to orders exactly once.
"""
