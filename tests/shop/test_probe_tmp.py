import json
import pytest

OPS_TOKEN = "ops-probe-token"
OPS = {"Authorization": f"Bearer {OPS_TOKEN}"}

@pytest.fixture
def ops_client(make_app):
    return make_app(ops_token=OPS_TOKEN, webhook_allow_private=True).test_client()

VALUES = {"NaN": b"NaN", "Inf": b"Infinity", "-Inf": b"-Infinity", "1e309": b"1e309",
          "-1": b"-1", "true": b"true", "false": b"false", "1.5": b"1.5", "0": b"0",
          "bigint": b"9223372036854775808", "long": json.dumps("x" * 100_000).encode(),
          "null": b"null", "list": b"[]", "obj": b"{}", "1e2": b"1e2", "neg0": b"-0.0",
          "str": b'"5"'}
TIMES = ["2026-12-24T18:00:00", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59-23:59",
         "10000-01-01T00:00:00Z", "+275760-09-13T00:00:00Z", "2026-02-30T00:00:00Z",
         "2026-12-24T18:00:00+99:99", "2026-12-24", "0001-01-01T00:00:00+01:00",
         "9999-12-31T23:59:59Z", "2026-12-24T18:00:00.1234567891234Z", "٢٠٢٦-12-24T18:00:00Z",
         "2026-12-24T25:00:00Z", "2026-12-24t18:00:00z", "2026-12-24 18:00:00Z"]

def test_probe(client, api, shop, ops_client):
    log = open("/tmp/apid/probe.txt", "a")
    slug = shop.slug
    ev = client.post(f"/api/v1/shops/{slug}/events", headers=shop.auth, json={
        "name": "x", "starts_at": "2030-01-01T00:00:00Z", "duration_min": 10,
        "expected_peak_rps": 10})
    assert ev.status_code == 201, ev.get_json()
    eid = ev.get_json()["id"]
    bodies = {
        ("POST", f"/api/v1/shops/{slug}/events"): ["name", "starts_at", "duration_min", "expected_peak_rps"],
        ("PATCH", f"/api/v1/shops/{slug}/events/{eid}"): ["name", "starts_at", "duration_min", "expected_peak_rps"],
        ("PUT", f"/api/v1/shops/{slug}/waiting-room"): ["mode", "admit_per_s"],
        ("POST", f"/api/v1/shops/{slug}/collaborators"): ["email", "role", "password"],
        ("PATCH", f"/api/v1/shops/{slug}/collaborators/1"): ["role"],
        ("POST", f"/api/v1/shops/{slug}/ownership"): ["collaborator_id"],
        ("PUT", f"/api/v1/shops/{slug}/plan"): ["plan"],
        ("POST", f"/api/v1/shops/{slug}/webhooks"): ["url", "events"],
        ("POST", f"/api/v1/shops/{slug}/erasures"): ["email"],
        ("POST", f"/api/v1/shops/{slug}/products"): ["sku", "name", "price", "stock"],
        ("PATCH", f"/api/v1/shops/{slug}/products/TEA"): ["name", "price", "stock", "stock_delta"],
        ("POST", f"/api/v1/shops/{slug}/carriers"): ["name", "daily_capacity"],
        ("POST", "/api/v1/merchants"): ["name", "email", "password"],
        ("POST", "/api/v1/tokens"): ["email", "password"],
        ("POST", "/api/v1/ops/incidents"): ["title", "components", "message", "eta", "verbatim"],
        ("POST", "/api/v1/ops/incidents/1/updates"): ["message", "status", "eta"],
        ("POST", "/api/v1/ops/breaches"): ["title", "detected_at", "data_concerned", "subjects_affected"],
        ("PUT", f"/api/v1/ops/events/{eid}/plan"): ["web_replicas", "ready_by"],
    }
    base = {"name": "N", "starts_at": "2030-01-01T00:00:00Z", "duration_min": 10,
            "expected_peak_rps": 10, "mode": "on", "admit_per_s": 5, "email": "a@example.com",
            "role": "staff", "password": "long enough pw", "collaborator_id": 1, "plan": "free",
            "url": "http://127.0.0.1:9/x", "events": ["incident.opened"], "sku": "TEA",
            "price": 100, "stock": 1, "stock_delta": 1, "daily_capacity": 5, "title": "T",
            "components": ["checkout"], "message": "M", "eta": None, "verbatim": False,
            "status": "identified", "detected_at": "2026-01-01T00:00:00Z", "data_concerned": "d",
            "subjects_affected": 1, "web_replicas": 1, "ready_by": "2030-01-01T00:00:00Z"}
    def send(method, url, data, ctype="application/json"):
        c = ops_client if "/ops/" in url else client
        headers = OPS if "/ops/" in url else shop.auth
        r = c.open(url, method=method, data=data, headers={**headers, "Content-Type": ctype})
        return r
    for (method, url), fields in bodies.items():
        for field in fields:
            for vname, raw in VALUES.items():
                doc = {k: base[k] for k in fields}
                text = json.dumps(doc).encode()
                text = text.replace(json.dumps({field: base[field]}).encode()[1:-1],
                                    json.dumps(field).encode() + b": " + raw)
                r = send(method, url, text)
                if r.status_code >= 500 or (r.status_code >= 400 and r.mimetype != "application/problem+json"):
                    log.write(f"BAD {method} {url} {field}={vname}: {r.status_code} {r.get_data()[:300]}\n")
                elif r.status_code < 400 and vname in ("NaN", "Inf", "-Inf", "1e309", "bigint", "long"):
                    log.write(f"ACCEPTED {method} {url} {field}={vname}: {r.status_code}\n")
        for field in [f for f in fields if f in ("starts_at", "eta", "detected_at", "ready_by")]:
            for t in TIMES:
                doc = {k: base[k] for k in fields}; doc[field] = t
                r = send(method, url, json.dumps(doc).encode())
                log.write(f"TIME {method} {url} {field}={t}: {r.status_code} {r.get_data()[:200]}\n")
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "", "application/json; charset=latin-1", "multipart/form-data; boundary=x"):
            r = send(method, url, json.dumps({k: base[k] for k in fields}).encode(), ctype)
            if not (400 <= r.status_code < 500) or r.mimetype != "application/problem+json":
                log.write(f"CTYPE {method} {url} {ctype!r}: {r.status_code} {r.get_data()[:200]}\n")
        for name, raw in {"unknown": json.dumps({**{k: base[k] for k in fields}, "zz": 1}).encode(),
                          "nonutf8": b'{"name": "\xff\xfe"}', "huge": b'{"name": "' + b"x" * 200_000 + b'"}',
                          "empty": b"", "list": b"[]"}.items():
            r = send(method, url, raw)
            if not (400 <= r.status_code < 500) or r.mimetype != "application/problem+json":
                log.write(f"OTHER {method} {url} {name}: {r.status_code} {r.get_data()[:200]}\n")
    log.close()


def test_probe_csv_and_queries(client, api, shop, ops_client):
    log = open("/tmp/apid/probe2.txt", "w")
    slug = shop.slug
    url = f"/api/v1/shops/{slug}/products/import"
    H = "sku,name,description,category,price_amount,currency,stock"
    files = {
        "bom": ("\ufeff" + H + "\r\nA,Alpha,,,100,EUR,1\r\n").encode(),
        "crlf": (H + "\r\nB,Beta,\"a, \"\"quoted\"\"\r\nline\",,100,EUR,1\r\n").encode(),
        "empty": b"",
        "header only": H.encode(),
        "formula": (H + "\n=cmd|' /C calc'!A0,\"=HYPERLINK(\"\"x\"\")\",+1,@SUM(1),100,EUR,1\n").encode(),
        "10MB": (H + "\n" + ("C,x,,,1,EUR,1\n" * 800_000)).encode(),
        "latin1": (H + "\nD,Caf\xe9,,,1,EUR,1\n").encode("latin-1"),
        "nul": (H + "\nE,a\x00b,,,1,EUR,1\n").encode(),
        "bad quotes": (H + '\nF,"unterminated,,,1,EUR,1\n').encode(),
        "huge number": (H + "\nG,x,,,99999999999999999999999,EUR,1\n").encode(),
        "neg": (H + "\nH,x,,,-1,EUR,-5\n").encode(),
        "nan": (H + "\nI,x,,,NaN,EUR,Infinity\n").encode(),
        "bad currency": (H + "\nJ,x,,,1,XXX,1\n").encode(),
        "long cell": (H + "\nK," + "x" * 20000 + ",,,1,EUR,1\n").encode(),
        "utf16": (H + "\nL,x,,,1,EUR,1\n").encode("utf-16"),
        "wrong header": b"a,b,c\n1,2,3\n",
        "dup header": (H + ",sku\n").encode(),
        "only newlines": b"\r\n\r\n\n",
    }
    for name, body in files.items():
        for ctype in ("text/csv", "text/csv; charset=utf-8", "text/csv; charset=latin-1", "application/json", "text/plain"):
            r = client.post(url + "?dry_run=true", data=body, headers={**shop.auth, "Content-Type": ctype})
            log.write(f"IMPORT {name} {ctype}: {r.status_code} {r.mimetype} {r.get_data()[:300]}\n")
    r = client.post(url, data=files["formula"], headers={**shop.auth, "Content-Type": "text/csv"})
    log.write(f"REAL formula: {r.status_code} {r.get_data()[:300]}\n")
    r = client.post(url, data=files["crlf"], headers={**shop.auth, "Content-Type": "text/csv"})
    log.write(f"REAL crlf: {r.status_code} {r.get_data()[:300]}\n")
    r = client.get(f"/api/v1/shops/{slug}/products/export", headers=shop.auth)
    log.write(f"EXPORT: {r.status_code} {r.mimetype} {r.get_data()!r}\n")
    for q in ["dry_run=maybe", "dry_run=" + "x" * 3000, "dry_run=%ff", "dry_run=TRUE", "dry_run=", "dry_run=true&dry_run=false"]:
        r = client.post(url + "?" + q, data=files["bom"], headers={**shop.auth, "Content-Type": "text/csv"})
        log.write(f"QUERY import {q[:30]}: {r.status_code} {r.get_data()[:200]}\n")
    for q in ["from=9999-12-31T23:59:59Z", "from=0001-01-01T00:00:00Z&to=0001-01-02T00:00:00Z",
              "from=0001-01-01T00:00:00Z", "to=9999-12-31T23:59:59Z", "from=2026-01-01T00:00:00", "from=x",
              "from=2026-01-01T00:00:00 01:00", "from=2026-01-01T00:00:00%2B01:00&to=2025-01-01T00:00:00Z",
              "from=" + "9" * 3000]:
        r = ops_client.get("/api/v1/ops/events?" + q, headers=OPS)
        log.write(f"QUERY ops events {q[:60]}: {r.status_code} {r.get_data()[:200]}\n")
    for q in ["limit=0", "limit=-1", "limit=1e3", "limit=true", "cursor=%ff%fe", "cursor=" + "x" * 100, "cursor=!!!", "limit=99999999999999999999"]:
        r = client.get(f"/api/v1/shops/{slug}/audit?" + q, headers=shop.auth)
        log.write(f"QUERY audit {q[:40]}: {r.status_code} {r.get_data()[:200]}\n")
    for q in ["format=xml", "format=", "format=CSV", "format=%ff"]:
        r = ops_client.get("/api/v1/ops/breaches/export?" + q, headers=OPS)
        log.write(f"QUERY breach export {q}: {r.status_code} {r.get_data()[:200]}\n")
    cart = api.new_cart(shop)
    for q in ["country=XX", "country=", "", "country=fr", "country=%ff", "country=" + "x" * 300, "country=F%00"]:
        r = client.get(f"/api/v1/carts/{cart}/shipping-options?" + q)
        log.write(f"QUERY shipping {q[:40]}: {r.status_code} {r.get_data()[:200]}\n")
    for body in [{"decision": []}, {"decision": {}}, {"subjects_affected": True}, {"notified_at": []},
                 {"title": 5}, {"detected_at": "2026-01-01T00:00:00Z", "notified_at": "2025-01-01T00:00:00Z"}]:
        r = ops_client.post("/api/v1/ops/breaches", json={"title": "t", "data_concerned": "d", "detected_at": "2026-01-01T00:00:00Z", **body}, headers=OPS)
        log.write(f"BREACH {body}: {r.status_code} {r.get_data()[:200]}\n")
    for body in [{"mode": []}, {"mode": "on", "admit_per_s": 1e-300}, {"mode": "on", "admit_per_s": 1e308}, {"mode": {}}]:
        r = client.put(f"/api/v1/shops/{slug}/waiting-room", json=body, headers=shop.auth)
        log.write(f"ROOM {body}: {r.status_code} {r.get_data()[:200]}\n")
    for seg in ["%ff", "x" * 3000, "..", "%00", "1e3", "-1", "99999999999999999999"]:
        for u in [f"/api/v1/ops/incidents/{seg}", f"/api/v1/ops/breaches/{seg}", f"/api/v1/shops/{slug}/webhooks/{seg}/deliveries",
                  f"/api/v1/invitations/{seg}/accept", f"/api/v1/shops/{slug}/events/{seg}"]:
            c = ops_client if "/ops/" in u else client
            h = OPS if "/ops/" in u else shop.auth
            r = c.post(u, json={}, headers=h) if u.endswith("accept") else c.get(u, headers=h)
            if r.status_code >= 500 or r.mimetype != "application/problem+json":
                log.write(f"PATH {u[:80]}: {r.status_code} {r.get_data()[:200]}\n")
    log.close()
