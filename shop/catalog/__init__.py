"""The catalog: products, prices and live availability."""
