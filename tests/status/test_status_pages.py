"""The status pages in HTML, the shop's page, the fallback when the database is down, and the
503 pages that now point to the status page."""

import re

import pytest
import sqlalchemy
import sqlalchemy.exc

from shop.status.snapshot import SnapshotCache
from tests.status.conftest import OPS, open_incident
from tests.support.servers import free_port


def test_the_page_says_all_is_well_in_words(client):
    response = client.get("/status")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "Everything is working normally." in html
    assert html.count("Working normally") == 5
    assert "<script" not in html
    assert "script-src" not in response.headers["Content-Security-Policy"]


def test_an_incident_shows_its_text_eta_and_next_update(client):
    created = open_incident(client, title="Payments fail", components=["payments"],
                            impact="outage", eta="2099-12-24T18:00:00+01:00")
    client.post(f"/api/v1/ops/incidents/{created['id']}/updates", headers=OPS,
                json={"message": "The card processor is down.", "status": "identified"})
    html = client.get("/status").get_data(as_text=True)
    assert "Something is not working at the moment." in html
    assert "<h3 id=\"sp-incident-" in html and "Payments fail" in html
    assert "We are sorry." in html and "found the cause" in html
    assert "24 Dec 2099, 17:00 UTC" in html  # the ETA, in UTC
    assert "Next update" in html and "Earlier updates (1)" in html
    assert "Not working" in html


def test_customer_text_is_escaped(client):
    open_incident(client, title="<script>alert(1)</script>", message="<b>x</b>")
    html = client.get("/status").get_data(as_text=True)
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html


def test_a_shop_page_shows_the_shop_and_its_incidents(client, shop):
    open_incident(client, shop=shop.slug, title="Mails from this shop are late",
                  components=["e-mail"])
    response = client.get(f"/shops/{shop.slug}/status")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Nordpol Geschenke: status" in html
    assert "Mails from this shop are late" in html
    assert f'href="/shops/{shop.slug}/"' in html
    assert "Mails from this shop are late" not in client.get("/status").get_data(as_text=True)


def test_an_unknown_shop_page_is_an_html_404(client):
    response = client.get("/shops/nobody-here/status")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "/status" in response.get_data(as_text=True)


@pytest.fixture
def unreachable_database_url(settings_overrides, tmp_path):
    if settings_overrides["database_url"].startswith("sqlite"):
        return f"sqlite:///{tmp_path}"  # a directory: SQLite cannot open it
    return f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/peakshop"


def test_without_database_the_page_still_answers(make_app, unreachable_database_url):
    client = make_app(database_url=unreachable_database_url).test_client()
    response = client.get("/status")
    assert response.status_code == 503 and response.mimetype == "text/html"
    assert "Our team is alerted and on it." in response.get_data(as_text=True)
    assert response.headers["Retry-After"]


def test_the_503_page_links_to_the_status_page(make_app, unreachable_database_url):
    client = make_app(database_url=unreachable_database_url).test_client()
    response = client.get("/shops/any-shop/")
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert re.search(r'href="/(shops/any-shop/)?status"[^>]*>our status page</a>', html)


def test_a_stale_snapshot_is_served_when_the_database_fails():
    """A real engine on a port where nothing listens raises the real driver error."""
    engine = sqlalchemy.create_engine(
        f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/gone")
    cache = SnapshotCache(fresh_s=0)
    assert cache.get("platform", lambda: {"status": "degraded"}) == {"status": "degraded"}

    def load_from_dead_database():
        with engine.connect():
            raise AssertionError("unreachable")

    assert cache.get("platform", load_from_dead_database) == {"status": "degraded",
                                                              "stale": True}
    with pytest.raises(sqlalchemy.exc.OperationalError):
        cache.get("never-loaded", load_from_dead_database)
    engine.dispose()


def test_a_fresh_snapshot_spares_the_database():
    cache = SnapshotCache(fresh_s=60)
    loads = []
    for _ in range(3):
        cache.get("platform", lambda: loads.append(1) or {"n": len(loads)})
    assert loads == [1]


def test_every_page_links_to_the_status_page_in_its_footer(client, shop):
    html = client.get(f"/shops/{shop.slug}/").get_data(as_text=True)
    assert f'<a href="/shops/{shop.slug}/status">Service status</a>' in html
    html = client.get("/status").get_data(as_text=True)
    assert '<a href="/status">Service status</a>' in html


@pytest.mark.parametrize("path", ["/api/v1/shops/%00/status", "/shops/%00/status",
                                  "/api/v1/shops/" + "x" * 5000 + "/status",
                                  "/shops/%F0%9F%8E%84/status", "/api/v1/ops/incidents/%00"])
def test_hostile_paths_are_never_a_500(client, path):
    assert client.get(path, headers=OPS).status_code < 500


def test_metrics_show_open_incidents_backlog_and_overdue_breaches(client, shop):
    from datetime import UTC, datetime, timedelta

    from prometheus_client.parser import text_string_to_metric_families

    open_incident(client)
    open_incident(client, shop=shop.slug)
    client.post(f"/api/v1/shops/{shop.slug}/webhooks", headers=shop.auth,
                json={"url": "http://127.0.0.1:9/hook"})
    open_incident(client, shop=shop.slug)  # one delivery waiting
    client.post("/api/v1/ops/breaches", headers=OPS, json={
        "title": "Old leak", "data_concerned": "e-mails",
        "detected_at": (datetime.now(UTC) - timedelta(hours=80)).isoformat()})
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(
                   client.get("/metrics").get_data(as_text=True))
               for s in family.samples}
    assert samples[("peakshop_incidents_open", (("scope", "platform"),))] == 1
    assert samples[("peakshop_incidents_open", (("scope", "shop"),))] == 2
    assert samples[("peakshop_webhook_deliveries", (("status", "pending"),))] == 1
    assert samples[("peakshop_breaches_overdue", ())] == 1


def test_the_api_503_points_to_the_status_page(make_app, unreachable_database_url):
    client = make_app(database_url=unreachable_database_url).test_client()
    response = client.get("/api/v1/shops/any-shop/products")
    assert response.status_code == 503
    assert response.get_json()["status_page"] == "/status"
