"""Backups in the Patroni mode (issue 17: the backup role archives from whichever member leads): pgBackRest's check
passes on the leader, the timers' service backs up on the leader and exits 0 on the replica, a restore drill
restores onto the scratch host (the etcd-only host) and compares every table, and the failover drill measures
Patroni's own failover. That archiving and the timers follow the leader through switchover.yml is checked in
test_switchover_playbook.py, through a failover in test_patroni.py. Runs first, on the leader the converge made."""

from __future__ import annotations

import json

from conftest import ETCD_ONLY, failed_tasks, playbook, wait_for


def test_the_stanza_checks_on_the_leader_and_the_archive_is_not_failing(cluster):
    leader = cluster.leader()
    check = cluster.pgbackrest(leader, "check")
    assert check.rc == 0, check.stdout + check.stderr
    assert cluster.archives(leader)
    # No archive failure since the last success (the drills after this test cut the store off on purpose).
    failing = "SELECT coalesce(last_failed_time > last_archived_time, false) FROM pg_stat_archiver"
    assert cluster.sql(leader, failing).stdout.strip() == "f"


def test_the_timers_service_backs_up_on_the_leader_and_exits_0_on_the_replica(cluster):
    leader = cluster.leader()
    replica = next(name for name in cluster.hosts if name != leader)
    labels = cluster.backup_labels(leader)
    cluster.hosts[replica].check_output("systemctl start webstack-backup@full.service")
    assert cluster.backup_labels(leader) == labels
    cluster.hosts[leader].check_output("systemctl start webstack-backup@full.service")
    after = cluster.backup_labels(leader)
    assert len(after) == len(labels) + 1 and after[-1].endswith("F"), after


def test_a_restore_drill_restores_every_table_onto_the_scratch_host(cluster, tmp_path):
    leader = cluster.leader()
    probe = cluster.sql(
        leader,
        "CREATE TABLE IF NOT EXISTS backup_probe (id int PRIMARY KEY, note text); TRUNCATE backup_probe; "
        "INSERT INTO backup_probe SELECT n, md5(n::text) FROM generate_series(1, 500) AS n",
        db="shop",
    )
    assert probe.rc == 0, probe.stderr
    drill = ("-e", "drill_kind=restore", "-e", f"drill_host={ETCD_ONLY}", "-e", f"drill_report_dir={tmp_path}")
    rc, output = playbook("dr_drill.yml", *drill)
    assert rc == 0, output[-6000:]
    (path,) = tmp_path.glob("dr-restore-*.json")
    report = json.loads(path.read_text())
    print(f"\nrestore drill in Patroni mode: measured {report['measured']}, verdicts {report['verdicts']}")
    assert report["status"] == "passed", report.get("message")
    assert report["source"]["host"] == cluster.containers[leader]
    assert report["tables"]["equal"] and report["tables"]["differences"] == [], report["tables"]
    assert report["tables"]["compared"] == report["source"]["tables"] >= 1
    assert all(check["ok"] for check in report["checks"]), report["checks"]
    assert report["measured"]["rpo_s"] == 0
    assert report["verdicts"]["rpo"] == "met" and report["verdicts"]["rto"] == "met", report["verdicts"]
    # The copy is gone, and the cluster still has its leader and its streaming replica.
    assert cluster.outsider.run("ls -A /var/lib/postgresql/*/main 2>/dev/null | wc -l").stdout.strip() == "0"
    assert cluster.leader() == leader


def test_the_failover_drill_measures_patronis_own_failover(cluster, tmp_path):
    """dr_drill.yml's failover drill in the Patroni mode: the leader's Patroni and server killed under the drill's
    writer through PgBouncer, Patroni promotes the replica, the old leader started again rejoins by itself."""
    leader = cluster.leader()
    rc, output = playbook("dr_drill.yml", "-e", "drill_kind=failover", "-e", f"drill_report_dir={tmp_path}")
    reports = list(tmp_path.glob("dr-failover-*.json"))
    report = json.loads(reports[0].read_text()) if reports else {}
    print(f"\nfailover drill in Patroni mode: {report.get('message')} measured {report.get('measured')}")
    assert rc == 0, failed_tasks(output) or output[-6000:]
    assert report["status"] == "passed", report.get("message")
    assert report["source"]["host"] == cluster.containers[leader]
    assert report["new_primary"] != report["source"]["host"]
    assert all(check["ok"] for check in report["checks"]), report["checks"]
    assert {"rto_s", "kill_to_promoted_s", "old_leader_rejoin_s"} <= set(report["measured"])
    assert cluster.leader() != leader
    assert wait_for(lambda: cluster.streams_from_leader(leader), 60), cluster.members()
