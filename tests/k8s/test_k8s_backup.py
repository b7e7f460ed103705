"""Prod runs peakshop's own off-site backups and a nightly restore drill an alert watches."""

from __future__ import annotations

from k8s_manifests import find


def test_prod_archives_continuously_and_drills_every_night(rendered):
    objects = rendered("prod")
    archiver = find(objects, "Deployment", "peakshop-backup")
    [container] = archiver["spec"]["template"]["spec"]["containers"]
    assert container["args"][:2] == ["backup", "--continuous"]
    assert archiver["spec"]["replicas"] == 1 and archiver["spec"]["strategy"]["type"] == (
        "Recreate")  # one reader of the replication slot
    drill = find(objects, "CronJob", "peakshop-backup-drill")["spec"]
    assert drill["concurrencyPolicy"] == "Forbid"
    [runner] = drill["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert runner["args"][0] == "drill" and "--pushgateway" in runner["args"]
    cluster = find(objects, "Cluster", "peakshop-db")["spec"]
    assert any(role["name"] == "peakshop_backup" and role["replication"]
               for role in cluster["managed"]["roles"])


def test_alerts_watch_the_drill_result(rendered):
    rules = find(rendered("prod"), "PrometheusRule", "peakshop-backups")["spec"]["groups"]
    expressions = " ".join(rule["expr"] for group in rules for rule in group["rules"])
    for metric in ("peakshop_backup_drill_verified", "peakshop_backup_drill_rpo_seconds",
                   "peakshop_backup_drill_last_success_timestamp_seconds",
                   "kube_job_status_failed"):
        assert metric in expressions
