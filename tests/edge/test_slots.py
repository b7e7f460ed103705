"""The gate's slots to gunicorn: bounded, most valuable first, and the load they show."""

import asyncio

import pytest

from shop.edge.slots import SlotWaitTimeout, UpstreamSlots
from shop.waiting_room.decision import LoadLevel, LoadThresholds, RequestClass


def test_a_freed_slot_goes_to_the_most_valuable_waiting_request_then_the_oldest():
    async def scenario() -> list[str]:
        slots = UpstreamSlots(1, LoadThresholds())
        await slots.acquire(RequestClass.ESSENTIAL, 1)
        served: list[str] = []

        async def visit(name: str, value: RequestClass) -> None:
            await slots.acquire(value, 5)
            served.append(name)
            slots.release(0.01)

        waiting = [asyncio.create_task(visit(name, value)) for name, value in (
            ("browse-1", RequestClass.ANONYMOUS_BROWSE), ("checkout", RequestClass.CHECKOUT),
            ("browse-2", RequestClass.ANONYMOUS_BROWSE), ("cart", RequestClass.CART))]
        await asyncio.sleep(0)
        assert slots.waiting == 4 and slots.in_flight == 1
        slots.release(0.01)
        await asyncio.gather(*waiting)
        assert slots.in_flight == 0 and slots.waiting == 0
        return served

    assert asyncio.run(scenario()) == ["checkout", "cart", "browse-1", "browse-2"]


def test_a_request_that_waits_too_long_gives_up_its_place_and_nothing_leaks():
    async def scenario() -> None:
        slots = UpstreamSlots(1, LoadThresholds())
        await slots.acquire(RequestClass.CART, 1)
        with pytest.raises(SlotWaitTimeout):
            await slots.acquire(RequestClass.CHECKOUT, 0.01)
        assert slots.waiting == 0
        slots.release(0.01)
        assert slots.in_flight == 0
        await slots.acquire(RequestClass.CART, 0.01)   # free again at once
        assert slots.in_flight == 1

    asyncio.run(scenario())


@pytest.mark.parametrize(("waiting", "service_s", "level"), [
    (0, 0.01, LoadLevel.NORMAL),
    (40, 0.01, LoadLevel.NORMAL),      # 40 x 10 ms / 4 slots = 0.1 s ahead
    (100, 0.01, LoadLevel.ELEVATED),   # 0.25 s ahead: half the SLO, the room opens
    (200, 0.01, LoadLevel.HIGH),
    (0, 2.5, LoadLevel.SEVERE),        # no queue, but every request breaks the SLO
    (10_000, 0.01, LoadLevel.CRITICAL),
])
def test_the_requests_waiting_at_the_gate_are_its_backlog(waiting, service_s, level):
    slots = UpstreamSlots(4, LoadThresholds(slo_s=0.5))
    slots.waiting, slots.service_time_s = waiting, service_s
    assert slots.level() is level


def test_more_workers_let_more_in_at_once_and_fewer_take_effect_as_requests_end():
    async def scenario() -> None:
        slots = UpstreamSlots(1, LoadThresholds())
        await slots.acquire(RequestClass.CART, 1)
        waiting = [asyncio.create_task(slots.acquire(RequestClass.CART, 5)) for _ in range(3)]
        await asyncio.sleep(0)
        slots.resize(3)                      # two more slots: two of the three go in
        await asyncio.sleep(0)
        assert slots.in_flight == 3 and slots.waiting == 1
        slots.resize(1)
        slots.release(0.01)                  # above the new limit: the slot goes away
        slots.release(0.01)
        assert slots.in_flight == 1 and slots.waiting == 1
        slots.release(0.01)                  # at the limit: handed to the last one waiting
        await asyncio.gather(*waiting)
        assert slots.in_flight == 1 and slots.waiting == 0

    asyncio.run(scenario())


def test_behind_serve_gate_the_slots_follow_gunicorns_workers(tmp_path, monkeypatch):
    """The scaler adds gunicorn workers with SIGTTIN: the gate lets twice as many in."""
    from shop.core.settings import load_settings
    from shop.edge.server import Gate
    from shop.edge.settings import load_gate_settings

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setenv("PEAKSHOP_WEB_THREADS", "1")
    app = load_settings({"PEAKSHOP_INSTANCE_PATH": str(tmp_path),
                         "PEAKSHOP_REDIS_URL": "redis://127.0.0.1:1/0"})
    workers = [1]

    async def scenario() -> list[int]:
        gate = Gate(load_gate_settings(app, {}), upstream_workers=lambda: workers[0])
        await gate.start()
        seen = []
        try:
            for count in (1, 3, 2):
                workers[0] = count
                for _ in range(100):   # the watcher looks every 2 s
                    if gate.slots.limit == 2 * count:
                        break
                    await asyncio.sleep(0.1)
                seen.append(gate.slots.limit)
        finally:
            await gate.close()
        return seen

    assert asyncio.run(scenario()) == [2, 6, 4]


def test_a_queue_that_stood_for_a_second_is_judged_by_what_gunicorn_finished():
    """gunicorn tells 9 ms a request but finishes 40 a second (a CPU limit's pauses are not
    on its clock): once a queue has stood at the gate through the samples of a second, the
    wait ahead is the queue over the requests finished a second; a queue that was not there
    the whole second (a burst after a quiet spell) is judged by gunicorn's clock."""
    slots = UpstreamSlots(2, LoadThresholds(slo_s=0.5))
    slots.upstream_time_s = 0.009
    slots.waiting = 62
    for second in (0.0, 0.5, 1.0):
        slots.sample_backlog(now=100.0 + second)
        for _ in range(20):                # 20 answers every half second: 40 a second
            slots.release(0.009, upstream_s=0.009)
            slots.in_flight += 1           # the freed slot went to the next in line
    assert slots.load().drained_per_s == pytest.approx(40.0)
    assert slots.level() is LoadLevel.HIGH          # 62 / 40 = 1.55 s ahead
    quiet = UpstreamSlots(2, LoadThresholds(slo_s=0.5))
    quiet.upstream_time_s = 0.009
    for second, waiting in ((0.0, 0), (0.5, 0), (1.0, 62)):
        quiet.waiting = waiting
        quiet.sample_backlog(now=100.0 + second)
    assert quiet.load().drained_per_s is None
    assert quiet.level() is LoadLevel.ELEVATED      # by gunicorn's clock: 0.28 s ahead


@pytest.mark.parametrize(("told_s", "held_s", "share"), [
    (0.005, 0.010, 0.2),   # told 0.2 of one worker, held 0.4 slot-seconds of two: agree
    (0.005, 0.025, 0.5),   # told 0.2; held one slot-second of two (a CPU limit's pauses)
    (0.010, 0.010, 0.4),   # told 0.4; held 0.2: gunicorn's own reading
])
def test_the_busy_share_is_the_larger_of_gunicorns_time_and_the_slots_held(told_s, held_s,
                                                                            share):
    """Over one second 40 requests, each told `told_s` by gunicorn and holding its slot
    `held_s` by the gate's clock, with two slots (one gunicorn worker)."""
    slots = UpstreamSlots(2, LoadThresholds(slo_s=0.5))
    slots.sample_backlog(now=100.0)
    for _ in range(40):
        slots.in_flight += 1
        slots.release(held_s, upstream_s=told_s)
    slots.sample_backlog(now=101.0)
    told_share = 40 * told_s / 1.0
    held_share = 40 * held_s / 2.0
    assert slots.busy_share() == pytest.approx(max(told_share, held_share))
    assert slots.busy_share() == pytest.approx(share)
