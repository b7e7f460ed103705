"""The `peakshop` policy as the live scaler runs it: fed with every reading it observes (its
forecast learns), with the events the shop announces (polled in the background), and with its
rate history kept in Redis when there is one. Built from the settings at the edge.
"""

from __future__ import annotations

import logging

from scaler.controller import Policy
from scaler.settings import ScalerConfigError, ScalerSettings

log = logging.getLogger("peakshop.scaler")


def peakshop_policy(settings: ScalerSettings) -> Policy:
    """peakshop's own policy, with the announced events and the rate history when given."""
    from scaler.events import EventSchedule, EventsFileError, load_events
    from scaler.policy import PolicySettings
    from scaler.rate_history import HistoryFileError, RateHistory, load_rate_history

    try:
        events = (load_events(settings.events_file, origin_s=settings.season_origin_s)
                  if settings.events_file else EventSchedule())
        if settings.redis_url:
            history = stored_history(settings)
        else:
            # Live readings are on the epoch clock: file them by minute of this season.
            history = (load_rate_history(settings.history_file,
                                         origin_s=settings.season_origin_s)
                       if settings.history_file else RateHistory(settings.season_origin_s))
    except (EventsFileError, HistoryFileError) as error:
        raise ScalerConfigError(str(error)) from None
    try:
        # The settings judged for this platform, chosen as the simulator chooses them: the
        # full levers with a push and in-place resize, else those judged without
        # (docs/simulation.md, "What runs live").
        policy_settings = PolicySettings.for_capacity(
            settings.capacity, settings.bounds,
            levers=settings.push and settings.max_pod_size > 1.0,
            max_pod_size=settings.max_pod_size, season_origin_s=settings.season_origin_s)
    except ValueError as error:
        raise ScalerConfigError(str(error)) from None
    poller = None
    if settings.events_url:
        from scaler.shop_events import ShopEventsClient, ShopEventsPoller

        poller = ShopEventsPoller(
            ShopEventsClient(settings.events_url, settings.ops_token or "",
                             origin_s=settings.season_origin_s), settings.events_poll_s)
    return LearningPolicy(policy_settings, events, history, poller)


def stored_history(settings: ScalerSettings):
    """The season's rate history in Redis (PEAKSHOP_REDIS_URL), with --history imported once."""
    import redis

    from scaler.history_store import HistoryStoreError, RedisRateStore, StoredRateHistory

    store = RedisRateStore(redis.Redis.from_url(settings.redis_url, socket_timeout=5,
                                                socket_connect_timeout=2),
                           settings.season_origin_s)
    try:
        if settings.history_file and store.import_file(settings.history_file):
            log.info("imported %s into the rate history in Redis", settings.history_file)
        return StoredRateHistory(store)
    except HistoryStoreError as error:
        raise ScalerConfigError(f"{error} (check PEAKSHOP_REDIS_URL / --redis-url)") from None


class LearningPolicy:
    """The peakshop policy fed with what it observes live, so its forecast learns today's
    traffic (yesterday's and last week's curves come from these recordings), and with the
    events the shop announces (polled in the background; the file's events stay too)."""

    listens_for_push = True   # as PeakshopPolicy: the controller asks it between rounds

    def __init__(self, settings, events, history, poller=None) -> None:
        self.settings = settings
        self.file_events = events
        self.history = history
        self.poller = poller
        self.period_s = settings.period_s
        self._version = None
        self.policy = self._policy(events)

    def _policy(self, events):
        from scaler.forecast import Forecaster
        from scaler.policy import PeakshopPolicy

        return PeakshopPolicy(self.settings, events, Forecaster(self.history, events=events))

    def _refresh_events(self) -> None:
        """A new policy when the shop's events changed; its state carries on."""
        from scaler.events import EventSchedule

        version, announced = self.poller.schedule()
        if version != self._version:
            self._version = version
            self.policy = self._policy(EventSchedule(
                (*self.file_events.events, *announced.events)))

    def initial_state(self, web: int, workers: int):
        """A fresh start (or leadership taken over): what the store holds is the history."""
        from scaler.signals.errors import SignalError

        reload = getattr(self.history, "reload", None)
        if reload is not None:
            try:
                reload()
            except SignalError as error:   # the forecast goes on from what is in memory
                log.warning("rate history not reloaded: %s", error)
        return self.policy.initial_state(web, workers)

    def decide(self, observation, state):
        if self.poller is not None:
            self._refresh_events()
        if not observation.pushed:   # a push is one second's estimate, not a reading to learn
            self.history.record(observation)
        decision, state = self.policy.decide(observation, state)
        if self.poller is not None:
            origin = self.settings.season_origin_s
            self.poller.want_plans([(event.id, replicas, origin + ready_by)
                                    for event, replicas, ready_by in
                                    self.policy.event_plans(state)])
        return decision, state
