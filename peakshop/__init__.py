"""The `peakshop` command: composes the storefront, the scaler and the load tests.

The storefront (`shop`) knows nothing of the scaler or the load tests; this small package is
the one place that puts them together, lazily, so `peakshop worker --check` imports only what
a liveness probe needs.
"""
