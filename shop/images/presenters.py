"""Images as the JSON API shows them, with absolute URLs a client can fetch directly."""

from __future__ import annotations

from flask import request

from shop.images.service import ImageView


def site_root() -> str:
    """This site's address as the caller reached it (behind trusted proxies, theirs)."""
    return request.host_url.rstrip("/")


def image_json(view: ImageView, root: str) -> dict:
    def absolute(url: str) -> str:
        return url if "://" in url else root + url

    return {"id": view.id, "alt": view.alt, "width": view.width, "height": view.height,
            "position": view.position, "url": absolute(view.sources[-1].url),
            "sources": [{"width": source.width, "height": source.height,
                         "url": absolute(source.url)} for source in view.sources]}
