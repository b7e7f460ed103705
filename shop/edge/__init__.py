"""The edge gate: an asyncio process on the public address, in front of gunicorn.

During a surge most requests are arrivals and refreshes of the waiting room's line. Answered
by gunicorn, each of them waits in the kernel's accept queue beside the shoppers already let
in, and the line itself becomes the overload. The gate answers them itself, from the same
Redis line, Lua script, signed tickets and pure decisions as the in-app room
(`shop.waiting_room`), and lets only a bounded number of requests into gunicorn at once: what
gunicorn cannot take now waits here, most valuable first, not in the kernel's queue.

- `classes`: what a request is worth, from its method and path (pure).
- `slots`: the bounded, prioritised requests in flight to gunicorn and the load they show.
- `room`: the waiting room's decision, asynchronously (redis.asyncio).
- `proxy`: forwarding to gunicorn: headers, client address, streaming, failures.
- `server`: the aiohttp application; `run`: `peakshop gate` and `peakshop serve --gate`.

No Flask and no SQLAlchemy here (tests/test_layers.py checks it): the gate must stay small,
fast to start, and alive while the app behind it is not.
"""
