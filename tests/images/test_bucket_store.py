"""Images in an S3-compatible bucket: written with their type and caching, read by URL.

The bucket lives in moto's S3-compatible server (see conftest.py), which stands in for S3.
"""

from __future__ import annotations

import io
import json
import uuid

import boto3
import pytest
import requests
from PIL import Image

from tests.images.support import picture, upload

BUCKET_PREFIX = "shop-media"


@pytest.fixture
def bucket(s3_server, s3_credentials):
    name = f"peakshop-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_server)
    client.create_bucket(Bucket=name)
    # Shoppers' browsers read images anonymously: the bucket is public for reading, as a
    # merchant sets it up (or puts a CDN in front).
    client.put_bucket_policy(Bucket=name, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{name}/*"}]}))
    yield name, client
    client.close()


def objects(client, name: str) -> list[str]:
    listed = client.list_objects_v2(Bucket=name)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def test_images_go_to_the_bucket_and_load_from_it(make_app, api, shop, bucket, s3_server):
    name, client = bucket
    app = make_app(media_url=f"s3://{name}/{BUCKET_PREFIX}", media_s3_endpoint=s3_server)
    web = app.test_client()
    api.add_product(shop, "MUG", name="Reindeer mug")
    response = upload(web, shop, "MUG", picture(900, 600), alt="Reindeer mug")
    assert response.status_code == 201, response.get_json()
    image = response.get_json()
    stored = objects(client, name)
    assert len(stored) == 3 and all(key.startswith(f"{BUCKET_PREFIX}/products/")
                                    for key in stored)
    for source in image["sources"]:
        assert source["url"].startswith(f"{s3_server}/{name}/{BUCKET_PREFIX}/products/")
        served = requests.get(source["url"], timeout=30)
        assert served.status_code == 200
        assert served.headers["Content-Type"] == "image/webp"
        assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert Image.open(io.BytesIO(served.content)).size == (source["width"],
                                                               source["height"])

    page = web.get(f"/shops/{shop.slug}/products/MUG")
    assert f'src="{s3_server}/{name}/{BUCKET_PREFIX}/products/' in page.get_data(as_text=True)
    assert f"img-src 'self' data: {s3_server};" in page.headers["Content-Security-Policy"]
    # The storefront serves no local copy: the bucket is the one place images live.
    assert web.get("/media/products/x.webp").status_code == 404

    deleted = web.delete(f"/api/v1/shops/{shop.slug}/products/MUG/images/{image['id']}",
                         headers=shop.auth)
    assert deleted.status_code == 204
    assert objects(client, name) == []


def test_a_store_that_refuses_writes_is_503_and_nothing_is_kept(make_app, api, shop,
                                                                 s3_server, s3_credentials):
    app = make_app(media_url="s3://no-such-bucket", media_s3_endpoint=s3_server)
    web = app.test_client()
    api.add_product(shop, "MUG")
    response = upload(web, shop, "MUG", picture(900, 600))
    assert response.status_code == 503
    assert response.get_json()["code"] == "dependency_unavailable"
    assert response.headers["Retry-After"]
    assert web.get(f"/api/v1/shops/{shop.slug}/products/MUG").get_json()["images"] == []
