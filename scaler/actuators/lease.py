"""Leader election on a `coordination.k8s.io/v1` Lease, so two scaler replicas never fight.

The rules are client-go's: take the Lease when nobody holds it, renew it while we hold it,
and leave another holder alone until its Lease has gone unrenewed for a whole
`leaseDurationSeconds`, measured on our own clock from when we last saw it change (so clock
skew between nodes cannot shorten it). Every write carries the `resourceVersion` it was based
on, so when two candidates race for an expired Lease the API server lets only one win.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable

import urllib3
from kubernetes.client import CoordinationV1Api
from kubernetes.client.exceptions import ApiException

from scaler.actuators import ActuatorError

log = logging.getLogger("peakshop.scaler.lease")


def micro_time(moment: datetime.datetime) -> str:
    """A Kubernetes MicroTime string (RFC 3339, always six fractional digits, UTC)."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class LeaseElector:
    """Takes, renews and releases one Lease for one identity."""

    def __init__(self, api: CoordinationV1Api, namespace: str, name: str, identity: str,
                 lease_duration_s: int = 45, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], datetime.datetime] = _utc_now) -> None:
        self.api = api
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration_s = lease_duration_s
        self.clock = clock
        self.wall_clock = wall_clock
        self._observed_record: tuple | None = None
        self._observed_at = 0.0
        self.leading = False

    def try_acquire_or_renew(self) -> bool:
        """One election round: True when this identity holds the Lease afterwards."""
        try:
            self.leading = self._round()
        except (ApiException, urllib3.exceptions.HTTPError) as error:
            self.leading = False
            raise ActuatorError(f"cannot read or write Lease {self.namespace}/{self.name}: "
                                f"{error}") from None
        return self.leading

    def _round(self) -> bool:
        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace)
        except ApiException as error:
            if error.status != 404:
                raise
            return self._create()
        spec = lease.spec
        holder = spec.holder_identity if spec else None
        record = (holder, spec.renew_time if spec else None,
                  spec.lease_transitions if spec else None)
        if record != self._observed_record:
            self._observed_record, self._observed_at = record, self.clock()
        if holder == self.identity:
            return self._write(lease, {"renewTime": micro_time(self.wall_clock())})
        duration = (spec.lease_duration_seconds if spec and spec.lease_duration_seconds
                    else self.lease_duration_s)
        if holder and self.clock() - self._observed_at < duration:
            return False
        now = micro_time(self.wall_clock())
        log.info("taking Lease %s/%s from %s", self.namespace, self.name, holder or "nobody")
        return self._write(lease, {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": self.lease_duration_s,
            "acquireTime": now,
            "renewTime": now,
            "leaseTransitions": ((spec.lease_transitions or 0) + 1) if spec else 1,
        })

    def _create(self) -> bool:
        now = micro_time(self.wall_clock())
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {"holderIdentity": self.identity,
                     "leaseDurationSeconds": self.lease_duration_s,
                     "acquireTime": now, "renewTime": now, "leaseTransitions": 0},
        }
        try:
            self.api.create_namespaced_lease(self.namespace, body)
        except ApiException as error:
            if error.status == 409:  # another candidate created it first
                return False
            raise
        log.info("created Lease %s/%s as %s", self.namespace, self.name, self.identity)
        return True

    def _write(self, lease, spec_changes: dict) -> bool:
        # resourceVersion in the patch is a precondition: a concurrent write makes this a 409.
        body: dict = {"spec": spec_changes}
        if lease.metadata and lease.metadata.resource_version:
            body["metadata"] = {"resourceVersion": lease.metadata.resource_version}
        try:
            self.api.patch_namespaced_lease(self.name, self.namespace, body)
        except ApiException as error:
            if error.status == 409:
                return False
            raise
        return True

    def release(self) -> None:
        """Give the Lease up at shutdown so a standby takes over without waiting it out."""
        if not self.leading:
            return
        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace)
            if lease.spec and lease.spec.holder_identity == self.identity:
                self._write(lease, {"holderIdentity": None,
                                    "renewTime": micro_time(self.wall_clock())})
        except (ApiException, urllib3.exceptions.HTTPError) as error:
            log.warning("could not release Lease %s/%s: %s", self.namespace, self.name, error)
        self.leading = False
