"""The shopper's HTML pages: catalog, product, cart, checkout, order status."""
