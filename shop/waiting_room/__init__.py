"""The waiting room and load shedding: who gets served when the crowd exceeds capacity.

- `decision`: pure rules (load level from signals; admit or shed by request class and level).
- `tickets`: signed places in line and passes (HMAC with the secret key).
- `service`: the shared line of each shop in Redis (one Lua script per decision).
- `signals`: this process's view of its own load (listen backlog, service time).
- `paths` and `answers`: which JSON API requests meet the room, and its 503 answer, without
  Flask: shared by `gate.FastLine` and the edge gate in front of gunicorn (`shop.edge`).
- `gate`: the request hook that applies all of it; `api` and `views` translate HTTP.
"""
