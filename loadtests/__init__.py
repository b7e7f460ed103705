"""Load tests of peakshop: Locust personas and shapes, trace replay, the local rehearsal.

Only `locustfile.py`, `shapes.py`, `swarm.py`, `recorder.py` and `calibrate.py` import Locust
(which monkey-patches the standard library through gevent); nothing the storefront imports
does, and the rest of this package runs Locust as a separate process.
"""
