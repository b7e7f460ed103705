"""The storefront's request metrics and request ids, as the scaler and the logs rely on them."""

from __future__ import annotations

import pytest

from tests.pipeline.support import metric_values


@pytest.mark.parametrize(("sent", "kept"), [
    ("edge-7f3a.1:2", True),
    ("trailing-newline\n", False),  # would split the echoed header and forge a log line
    ("x" * 129, False),
    ("spaces are not ids", False),
])
def test_request_id_is_echoed_only_when_harmless(client, sent, kept):
    # Handed over as a WSGI server would: the test client itself refuses a newline.
    response = client.get("/healthz", environ_overrides={"HTTP_X_REQUEST_ID": sent})
    assert response.status_code == 200
    echoed = response.headers["X-Request-ID"]
    assert (echoed == sent) is kept
    if not kept:
        assert len(echoed) == 32 and echoed.isalnum()


def test_invented_methods_share_one_label(client):
    for method in ("BREW", "WHEN", "PROPFIND"):
        client.open("/healthz", method=method)
    values = metric_values(client.get("/metrics").get_data(as_text=True))
    labelled = {name for name in values if name.startswith("peakshop_http_requests_total{")}
    assert any('method="other"' in name for name in labelled)
    assert not any(f'method="{m}"' in name for name in labelled for m in ("BREW", "WHEN"))
