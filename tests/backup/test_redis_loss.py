"""Redis is lost (wiped with FLUSHALL) in the middle of the checkout traffic.

What Redis holds is either disposable or rebuilt from the database: carts are lost (a shopper
fills the cart again), the order stream is re-fed from the database — orders paid but not yet
confirmed are found by the worker's lost-order sweep and queued again. Real Redis, a real
worker process, both databases.
"""

from __future__ import annotations

import signal
from datetime import timedelta

from sqlalchemy import make_url, update

from shop.core.db import Database
from shop.core.timeutil import utcnow
from shop.orders import queue
from shop.orders.housekeeping import requeue_orphans
from shop.orders.models import Order
from tests.backup.flow import OrderFlow, wait_for
from tests.pipeline.support import ShopState, buy_many, start_worker, subprocess_env


def with_options(database_url: str, options: str) -> str:
    return make_url(database_url).update_query_dict({"options": options}).render_as_string(
        hide_password=False)


def test_every_paid_order_is_confirmed_after_redis_is_wiped(app, api, shop, redis_client,
                                                            settings_overrides, tmp_path):
    api.add_product(shop, "MUG", stock=100_000)
    env = subprocess_env({
        "PEAKSHOP_DATABASE_URL": settings_overrides["database_url"],
        "PEAKSHOP_REDIS_URL": settings_overrides["redis_url"],
        "PEAKSHOP_SECRET_KEY": settings_overrides["secret_key"],
        "PEAKSHOP_INSTANCE_PATH": settings_overrides["instance_path"],
        "PEAKSHOP_LOG_JSON": "false", "PEAKSHOP_WORKER_BLOCK_MS": "200",
        "PEAKSHOP_WORKER_RELAY_INTERVAL_S": "0.2", "PEAKSHOP_WORKER_MAIL_INTERVAL_S": "0.2",
        # The sweep runs every second and takes orders paid over 2 s ago (production: 60 s
        # and 300 s, so a wiped Redis delays confirmations by minutes, never loses them).
        "PEAKSHOP_WORKER_ORPHAN_INTERVAL_S": "1", "PEAKSHOP_WORKER_ORPHAN_AFTER_S": "2"})
    if settings_overrides["database_url"].startswith("postgresql"):
        # SIGSTOP may freeze the worker inside its transaction, holding the MUG row's lock
        # that every checkout needs; PostgreSQL ends that session after this long idle in a
        # transaction (60 s by default), the flow goes on, and the worker reconnects on SIGCONT.
        env["PEAKSHOP_DATABASE_URL"] = with_options(
            settings_overrides["database_url"], "-c idle_in_transaction_session_timeout=2000")
    worker = start_worker(env, tmp_path, "survivor")
    state = ShopState(Database(settings_overrides["database_url"]))
    flow = OrderFlow([app], shop.slug, "MUG")
    try:
        flow.start()
        wait_for(lambda: state.count("confirmed") >= 10, "orders confirmed before the wipe")
        cart_id = api.new_cart(shop)
        assert api.set_item(cart_id, "MUG", 2).status_code == 200

        # Orders paid and relayed to the stream, not yet confirmed, when Redis is wiped.
        # SQLite has no server to end a frozen worker's transaction: frozen while it holds the
        # file's write lock, it would stop every checkout. There the worker is stopped, and a
        # new one takes over after the wipe.
        on_sqlite = settings_overrides["database_url"].startswith("sqlite")
        if on_sqlite:
            worker.stop()
        else:
            worker.signal(signal.SIGSTOP)
        accepted = len(flow.accepted)
        wait_for(lambda: len(flow.accepted) >= accepted + 10, "orders waiting in the stream")
        redis_client.flushall()
        stranded = state.order_ids("paid")
        assert stranded, "no order was caught in the stream by the wipe"
        if on_sqlite:
            worker = start_worker(env, tmp_path, "heir")
        else:
            worker.signal(signal.SIGCONT)

        accepted = len(flow.accepted)
        wait_for(lambda: len(flow.accepted) >= accepted + 10, "orders after the wipe")
        flow.halt()

        # Lost with Redis: the cart.
        assert api.client.get(f"/api/v1/carts/{cart_id}").status_code == 404
        # Not lost: every paid order, including those whose stream entries were wiped.
        wait_for(lambda: state.count("paid") == 0, "every paid order confirmed", 120)
        placed = {order_id for _, order_id in flow.accepted}
        assert stranded <= placed
        assert state.order_ids("confirmed") == placed
        assert sorted(mail.order_id for mail in state.mails()) == sorted(placed)
        assert state.product("MUG") == (100_000 - len(placed), 0)
        assert "re-queued" in worker.log
    finally:
        flow.halt()
        if worker.process.poll() is None:
            worker.signal(signal.SIGCONT)
            worker.stop()
        state.database.dispose()


def test_a_wiped_redis_is_noticed_and_the_sweep_does_not_wait_its_margin(app, api, shop,
                                                                          redis_client):
    """Normally the sweep leaves orders paid less than PEAKSHOP_WORKER_ORPHAN_AFTER_S (300 s)
    ago to the queue; right after Redis lost its data it takes those paid 30 s ago."""
    database = app.extensions["peakshop"].database
    api.add_product(shop, "MUG", stock=10)
    [order_id] = buy_many(api, shop, 1)
    with database.transaction() as session:
        session.execute(update(Order).where(Order.id == order_id)
                        .values(paid_at=utcnow() - timedelta(seconds=60)))
    requeue_orphans(database, redis_client, older_than_s=300)  # first sweep ever: a baseline
    assert requeue_orphans(database, redis_client, older_than_s=300) == 0

    redis_client.flushall()
    assert requeue_orphans(database, redis_client, older_than_s=300) == 1
    assert requeue_orphans(database, redis_client, older_than_s=300) == 0
    [(_, fields)] = redis_client.xrange(queue.STREAM)
    assert fields[b"order_id"].decode() == order_id
