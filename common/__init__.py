"""Small helpers that the storefront, the scaler and the load tests share.

Nothing here imports `shop`, `scaler` or `loadtests`: the arrows point into this package only.
"""
