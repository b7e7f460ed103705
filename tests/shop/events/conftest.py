"""The merchant-area fixtures (a shop with one member of each role) for the event pages."""

from tests.shop.merchants.conftest import team  # noqa: F401
