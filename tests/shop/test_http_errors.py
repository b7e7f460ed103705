"""Whatever the caller gets wrong, the answer is a 4xx problem+json that says how to fix it."""

import pytest

from tests.support.servers import free_port


def assert_problem(response, status, code=None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    if code:
        assert body["code"] == code
    return body


def test_malformed_json_is_400(client):
    response = client.post("/api/v1/merchants", data="{not json",
                           content_type="application/json")
    assert "not valid JSON" in assert_problem(response, 400, "malformed_json")["detail"]


def test_wrong_content_type_is_415(client):
    response = client.post("/api/v1/merchants", data="name=x",
                           content_type="application/x-www-form-urlencoded")
    assert "application/json" in assert_problem(response, 415)["detail"]


@pytest.mark.parametrize("body", ["[]", "42", '"text"', "null"])
def test_a_body_that_is_not_an_object_is_rejected(client, body):
    response = client.post("/api/v1/merchants", data=body, content_type="application/json")
    assert response.status_code in (400, 422)
    assert response.mimetype == "application/problem+json"


def test_a_body_too_large_is_413(client, shop):
    response = client.post(f"/api/v1/shops/{shop.slug}/products", headers=shop.auth,
                           json={"sku": "BIG", "name": "x", "description": "x" * 100_000,
                                 "price": 1, "stock": 1})
    assert "larger than" in assert_problem(response, 413)["detail"]


def test_unknown_route_and_method_are_problems(client):
    assert_problem(client.get("/api/v1/nothing-here"), 404)
    not_allowed = client.delete("/api/v1/merchants")
    assert_problem(not_allowed, 405)
    assert "POST" in not_allowed.headers["Allow"]


def test_a_nul_character_is_a_400_not_a_500(client):
    response = client.get("/api/v1/shops/x%00/products")
    assert response.status_code in (400, 404)
    assert response.mimetype == "application/problem+json"


def test_redis_down_is_503_with_retry_after(make_app, api, client, shop):
    """With Redis unreachable, cart calls answer 503 + Retry-After; the catalog still works."""
    api.add_product(shop, "TEA")
    broken = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0").test_client()
    response = broken.post(f"/api/v1/shops/{shop.slug}/carts")
    assert_problem(response, 503, "dependency_unavailable")
    assert int(response.headers["Retry-After"]) > 0
    assert broken.get(f"/api/v1/shops/{shop.slug}/products/TEA").status_code == 200
    ready = broken.get("/readyz")
    assert ready.status_code == 503 and "redis" in ready.get_json()["detail"]


def test_database_down_is_503(make_app):
    """A database that cannot be opened answers 503, never 500."""
    unreachable = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none"
    broken = make_app(database_url=unreachable).test_client()
    response = broken.get("/api/v1/shops/any/products")
    assert_problem(response, 503, "dependency_unavailable")
    assert broken.get("/healthz").status_code == 200
    assert broken.get("/readyz").status_code == 503


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json()["status"] == "ready"


def test_every_response_carries_a_request_id(client):
    response = client.get("/healthz", headers={"X-Request-ID": "edge-123"})
    assert response.headers["X-Request-ID"] == "edge-123"
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["X-Request-ID"] != "bad id with spaces"
    assert len(generated.headers["X-Request-ID"]) == 32
