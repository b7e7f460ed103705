"""The same story with nobody calling anything by hand: a real `peakshop worker` process
evaluates the burn rate and sends the webhooks on its own schedule (shortened to 0.2 s).

The storefront app serves real requests on the suite's Redis; its failing twin has its
database on a PostgreSQL port where nothing listens. The receiver is an HTTP server on
loopback that verifies every signature.
"""

import pytest

from tests.pipeline.support import start_worker, subprocess_env, wait_until
from tests.status.receiver import Receiver
from tests.support.servers import free_port


@pytest.fixture
def worker_env(settings_overrides) -> dict[str, str]:
    return subprocess_env({
        "PEAKSHOP_DATABASE_URL": settings_overrides["database_url"],
        "PEAKSHOP_REDIS_URL": settings_overrides["redis_url"],
        "PEAKSHOP_INSTANCE_PATH": settings_overrides["instance_path"],
        "PEAKSHOP_LOG_JSON": "false",
        "PEAKSHOP_WEBHOOK_ALLOW_PRIVATE": "true",
        "PEAKSHOP_WORKER_BLOCK_MS": "200",
        "PEAKSHOP_WORKER_BURN_RATE_INTERVAL_S": "0.2",
        "PEAKSHOP_WORKER_WEBHOOK_INTERVAL_S": "0.2",
    })


def test_the_worker_opens_tells_and_resolves_by_itself(make_app, client, api, shop, worker_env,
                                                       tmp_path):
    api.add_product(shop, "MUG")
    broken = make_app(database_url=f"postgresql+psycopg://peakshop@127.0.0.1:{free_port()}/gone"
                      ).test_client()
    with Receiver() as receiver:
        created = client.post(f"/api/v1/shops/{shop.slug}/webhooks", headers=shop.auth,
                              json={"url": receiver.url})
        assert created.status_code == 201, created.get_json()
        receiver.secret = created.get_json()["secret"]
        worker = start_worker(worker_env, tmp_path, "status")
        try:
            for _ in range(20):
                assert broken.get(f"/api/v1/shops/{shop.slug}/products").status_code == 503
            wait_until(lambda: receiver.events, "the worker to deliver incident.opened")
            assert client.get("/api/v1/status").get_json()["status"] == "outage"

            # Under half the slowest rule's rate over the last 5 minutes: 20 of 1 420.
            for _ in range(1400):
                assert client.get(f"/api/v1/shops/{shop.slug}/products").status_code == 200
            wait_until(lambda: len(receiver.events) >= 2, "the worker to deliver the resolution")
        finally:
            assert worker.stop() == 0, worker.log
    assert [e["type"] for e in receiver.events] == ["incident.opened", "incident.resolved"]
    assert receiver.refused == []
    assert client.get("/api/v1/status").get_json()["status"] == "operational"
    assert "opened incident" in worker.log and "resolved incident" in worker.log
