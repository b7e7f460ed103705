"""The `peakshop` scaling policy: pure decisions from observations, events and forecasts.

Use from a control loop (the simulator does exactly this)::

    settings = PolicySettings(season_origin_s=season_start_epoch, ...)  # built at the edge
    events = load_events(events_path)                        # or EventSchedule() without one
    history = load_rate_history(history_path, origin_s=settings.season_origin_s)
    #         ... or RateHistory(origin_s=settings.season_origin_s) on the first start
    forecaster = Forecaster(history, previous=load_rate_history(last_season_trace),
                            previous_shift_days=weekday_shift_days(...), events=events)
    policy = PeakshopPolicy(settings, events=events, forecaster=forecaster)
    state = policy.initial_state(web_replicas, worker_replicas)
    every period_s:
        history.record(observation)                          # the caller files each reading
        decision, state = policy.decide(observation, state)  # pure: no side effects
        act on decision.web / decision.workers; now and then history.save(history_path)

`state` is small and immutable; a new PeakshopPolicy (say, after the events file changed)
carries on with the same state.
"""

from scaler.policy.peakshop import PeakshopPolicy, PolicyState
from scaler.policy.settings import PolicySettings

__all__ = ["PeakshopPolicy", "PolicySettings", "PolicyState"]
