"""Server-rendered pages for shoppers; they work without JavaScript."""

from shop.storefront import cart_pages, catalog_pages, checkout_pages, home_pages
from shop.storefront.blueprint import blueprint

# Importing the page modules registers their routes on the blueprint.
__all__ = ["blueprint", "cart_pages", "catalog_pages", "checkout_pages", "home_pages"]
