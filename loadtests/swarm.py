"""What every Locust process of a swarm shares: the shop under test and the recorder.

The shop is given with --shop or seeded on test start, and on a distributed run handed from
the master to every worker before their users need it.
"""

from __future__ import annotations

import logging

import gevent
from gevent.event import Event
from locust import events
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

from loadtests.collection_pauses import CollectionPauses, collect_less, stop_timing
from loadtests.recorder import Recorder
from loadtests.seed import DemoShop, SeedError, discover_catalog, seed_demo_shop

log = logging.getLogger("peakshop.loadtests")

SHOP_MESSAGE = "peakshop_shop"
SHOP_WANTED_MESSAGE = "peakshop_shop_wanted"
SHOP_WAIT_S = 120.0


class ShopBoard:
    """The shop under test, known on every Locust process once it is ready."""

    def __init__(self) -> None:
        self.shop: DemoShop | None = None
        self.ready = Event()
        self.preparing: gevent.Greenlet | None = None

    def publish(self, shop: DemoShop) -> None:
        self.shop = shop
        self.ready.set()

    def wait(self) -> DemoShop:
        if not self.ready.wait(timeout=SHOP_WAIT_S):
            log.error("no shop to test after %.0f s: pass --shop or check --host", SHOP_WAIT_S)
            raise StopUser()
        return self.shop


board = ShopBoard()
recorder: Recorder | None = None
collection_pauses = CollectionPauses()


@events.init_command_line_parser.add_listener
def add_shop_arguments(parser) -> None:
    parser.add_argument("--shop", env_var="LOCUST_SHOP", default=None,
                        help="Slug of the shop to load (default: create a demo shop)")
    parser.add_argument("--merchant-token", env_var="LOCUST_MERCHANT_TOKEN", default=None,
                        is_secret=True, help="API token of that shop's merchant")
    parser.add_argument("--decline-share", env_var="LOCUST_DECLINE_SHARE", type=float,
                        default=0.05, help="Share of checkouts paid with tok_declined")
    parser.add_argument("--timeline-file", env_var="LOCUST_TIMELINE_FILE", default=None,
                        include_in_web_ui=False, help="Write per-second JSON lines here")
    parser.add_argument("--orders-file", env_var="LOCUST_ORDERS_FILE", default=None,
                        include_in_web_ui=False, help="Write each placed order here")


@events.init.add_listener
def on_init(environment, runner, **_kwargs) -> None:
    global recorder
    options = environment.parsed_options
    recorder = Recorder(environment, getattr(options, "timeline_file", None),
                        getattr(options, "orders_file", None))
    if isinstance(runner, WorkerRunner):
        runner.register_message(SHOP_MESSAGE, receive_shop)
    if isinstance(runner, MasterRunner):
        runner.register_message(SHOP_WANTED_MESSAGE, answer_shop_wanted)


def receive_shop(msg, **_kwargs) -> None:
    """A worker learns the shop from its master."""
    board.publish(DemoShop.from_json(msg.data))


def answer_shop_wanted(environment, msg, **_kwargs) -> None:
    """A worker that joined after the shop was shared asks for it; a master answers it alone
    (if the shop is still being prepared, the broadcast that follows reaches it anyway)."""
    if board.shop is not None:
        environment.runner.send_message(SHOP_MESSAGE, board.shop.to_json(),
                                        client_id=msg.node_id)


@events.test_start.add_listener
def measure_without_long_pauses(environment, **_kwargs) -> None:
    collect_less(collection_pauses)


@events.quitting.add_listener
def tell_collection_pauses(environment, **_kwargs) -> None:
    stop_timing(collection_pauses)
    log.info("full garbage collections of the load generator: %d, the longest %.0f ms",
             collection_pauses.full_collections, collection_pauses.longest_s * 1000)


@events.test_start.add_listener
def prepare_shop(environment, **_kwargs) -> None:
    """Use --shop or seed a demo shop, in its own greenlet: Locust restarts its spawning
    (which fires this event) whenever a shape changes the user count, and seeding takes
    longer than one tick. Users wait for the shop; a master hands it to its workers."""
    if isinstance(environment.runner, WorkerRunner):
        if board.shop is None:
            environment.runner.send_message(SHOP_WANTED_MESSAGE)
        return
    if board.shop is not None:
        share_shop(environment)
    elif board.preparing is None:
        board.preparing = gevent.spawn(find_or_seed_shop, environment)


def find_or_seed_shop(environment) -> None:
    options = environment.parsed_options
    try:
        if getattr(options, "shop", None):
            shop = DemoShop(options.shop, getattr(options, "merchant_token", None),
                            discover_catalog(environment.host, options.shop))
        else:
            shop = seed_demo_shop(environment.host)
            log.info("seeded demo shop %r with %d products", shop.slug, len(shop.catalog.skus))
    except (SeedError, OSError) as problem:
        log.error("cannot prepare the shop at %s: %s", environment.host, problem)
        environment.process_exit_code = 2
        environment.runner.quit()
        return
    board.publish(shop)
    share_shop(environment)


def share_shop(environment) -> None:
    """A master sends the shop to every worker connected now."""
    if isinstance(environment.runner, MasterRunner):
        environment.runner.send_message(SHOP_MESSAGE, board.shop.to_json())
