"""The season simulator behind `peakshop scaler simulate` (the model: docs/simulation.md).

How the written model is read, where it leaves room:

- Time: 1-second steps; a per-minute trace holds its rate for the minute. Decisions land at
  the start of a second; a pod asked for at t serves from t + startup_s; scaling down is
  immediate and removes pods that are not ready yet first (as a ReplicaSet does), so the
  ready count at t is the lowest requested count over [t - startup_s, t].
- Before the trace the cluster was settled on the first second's demand (min/max applied).
- Observations: a policy deciding at t sees the scrape taken at t - scrape_s: the request and
  order rates averaged over the rate_window_s before it, the ready and requested counts and
  the backlog as of that moment, CPU = min(1, rate / (ready * pod_max_rps)), the oldest
  order's age = backlog / (ready workers * worker_orders_per_s), and p95 within the SLO
  unless more than 5 % of the window's requests arrived while too few pods were ready.
- Workers: backlog_t = max(0, backlog_{t-1} + orders_t - ready_t * worker_orders_per_s).
- Figures per Deployment as written; a second without demand counts against one pod in
  theta. Combined: violation seconds are wall-clock seconds with any SLO missed, replica
  seconds and scaling actions add up, theta and tau are taken over both Deployments' seconds.

- Platform features (docs/simulation.md): ready capacity is ready pods x the in-pod size in
  effect (a resize serves resize_s after it is asked for, a cut at once, and costs its size);
  policies that listen hear a push push_s after the second the pods' rule (the live one,
  `scaler.signals.push.judge_arrivals`) heard arrivals pass push_at of the ready capacity by
  its margin; scrapes fail on a seeded schedule (faults.py), the same for every policy.
- Per-second arrival noise (noise.py, arrival_noise > 0): each second's arrivals are drawn
  around the rate, seeded; scraped rates and the push see them, demand keeps the rate.
- The waiting room (room.py, `--waiting-room`, off by default): demand beyond whole pods'
  worth of the ready SLO capacity waits in a FIFO line; an overload that starts with no line
  misses room_react_s seconds, the rest of it is within the SLO. CPU and the pods' push see
  what the room lets in; the scraped rate also counts the room's answers (live, the gate
  counts them), arrivals told to wait and the line's refreshes by Retry-After.

The closed-loop engine (`engine.py`) steps in ticks in which nothing changes (15 s with the
defaults), which is exact for the 1-second model; the tests check it against a plain
second-by-second walk.
"""
