"""The operations API's door: a Bearer token shared by the platform's operators.

Merchants' tokens reach one shop; the ops token reaches the platform (incidents, every shop's
announced events). It comes from PEAKSHOP_OPS_TOKEN; without it the ops API stays closed.
"""

from __future__ import annotations

import functools
import hmac

from flask import request

from shop.core import resources
from shop.core.errors import Forbidden, Unauthorized


def require_ops_token(view):
    """Let the request through only with `Authorization: Bearer <PEAKSHOP_OPS_TOKEN>`."""

    @functools.wraps(view)
    def guarded(*args, **kwargs):
        expected = resources.current().settings.ops_token
        if not expected:
            raise Forbidden("the operations API is closed: set PEAKSHOP_OPS_TOKEN to open it")
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented:
            raise Unauthorized("send the operations token as 'Authorization: Bearer <token>'")
        if not hmac.compare_digest(presented.strip().encode(), expected.encode()):
            raise Unauthorized("the operations token is not valid")
        return view(*args, **kwargs)

    return guarded
