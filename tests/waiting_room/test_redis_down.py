"""With Redis down the room fails open: the shop keeps selling what it can without a line.

A real redis-server is stopped under the app (the suite's shared server stays up).
"""

import pytest

from tests.support.api import ShopApi
from tests.support.servers import RedisServer


@pytest.fixture
def own_redis():
    server = RedisServer.start()
    yield server
    server.stop()


def test_the_room_fails_open_when_redis_stops_and_closes_again_when_it_returns(make_app,
                                                                              own_redis):
    app = make_app(redis_url=own_redis.url)
    client = app.test_client()
    api = ShopApi(client)
    shop = api.sign_up("Fail Open")
    api.add_product(shop, "MUG")
    assert client.put(f"/api/v1/shops/{shop.slug}/waiting-room", headers=shop.auth,
                      json={"mode": "on", "admit_per_s": 0.01}).status_code == 200
    assert client.get(f"/api/v1/shops/{shop.slug}/products").status_code == 503

    own_redis.stop()
    # Browsing reads the database only: served, with no place and no pass.
    served = client.get(f"/api/v1/shops/{shop.slug}/products/MUG")
    assert served.status_code == 200
    assert "Peakshop-Waiting-Room" not in served.headers
    page = client.get(f"/shops/{shop.slug}/products/MUG")
    assert page.status_code == 200
    # What needs Redis says so (503 dependency_unavailable), the room does not pretend.
    assert client.post(f"/api/v1/shops/{shop.slug}/carts").status_code == 503

    own_redis.restart()
    fresh = make_app(redis_url=own_redis.url)   # a process past its breaker
    assert fresh.test_client().get(f"/api/v1/shops/{shop.slug}/products").status_code == 503
