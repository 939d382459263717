"""The cluster watch's reading of `ceph status` / `osd dump` and the events it makes of changes."""
from chopsticks.engine.cluster_watch import ClusterWatch, osd_events, parse_status, status_events


def status(health="HEALTH_OK", checks=None, up=3, inn=3, epoch=10, pgs=None, **pgmap):
    return {
        "health": {"status": health, "checks": {code: {"summary": {"message": msg}} for code, msg in (checks or {}).items()}},
        "osdmap": {"epoch": epoch, "num_osds": 3, "num_up_osds": up, "num_in_osds": inn},
        "pgmap": {"num_pgs": 64,
                  "pgs_by_state": [{"state_name": s, "count": n} for s, n in (pgs or {"active+clean": 64}).items()],
                  **pgmap},
    }


def test_status_figures_count_pgs_by_each_state_they_are_in():
    s = parse_status(7, status(pgs={"active+clean": 40, "active+undersized+degraded": 20,
                                    "active+recovering+degraded": 3, "peering": 1},
                               recovering_bytes_per_sec=3 * 2**20, read_op_per_sec=100, write_op_per_sec=50))
    assert (s.second, s.pgs_degraded, s.pgs_recovering, s.pgs_peering) == (7, 23, 3, 1)
    assert (s.recovery_mib_s, s.cluster_op_s, s.osdmap_epoch) == (3.0, 150.0, 10)


def test_a_quiet_cluster_makes_no_event():
    assert status_events(parse_status(0, status()), parse_status(1, status())) == []


def test_changes_become_events_in_words():
    before = parse_status(0, status())
    after = parse_status(1, status("HEALTH_WARN", {"OSD_DOWN": "1 osds down", "OSDMAP_FLAGS": "noout flag(s) set"},
                                   up=2, pgs={"active+clean": 52, "active+undersized+degraded": 12}))
    events = status_events(before, after)
    assert events == ["HEALTH_OK → HEALTH_WARN", "HEALTH_WARN: 1 osds down", "HEALTH_WARN: noout flag(s) set",
                      "OSDs up 3 → 2", "PGs degraded 0 → 12"]
    assert status_events(after, before)[:3] == ["HEALTH_WARN → HEALTH_OK", "cleared: 1 osds down",
                                                "cleared: noout flag(s) set"]


def dump(*osds):
    return {"osds": [{"osd": n, "up": up, "in": inn, "down_at": down_at, "up_from": up_from}
                     for n, up, inn, down_at, up_from in osds]}


def test_an_osd_marked_down_and_back_up_between_two_samples_still_shows():
    _, states = osd_events(2**62, {}, dump((0, 1, 1, 0, 5), (1, 1, 1, 0, 5)))
    assert states == {0: (True, True), 1: (True, True)}
    events, states = osd_events(20, states, dump((0, 1, 1, 21, 22), (1, 1, 1, 0, 5)))
    assert events == ["osd.0 down and back up (osdmap epoch 21)"]
    events, states = osd_events(22, states, dump((0, 1, 1, 21, 22), (1, 0, 0, 23, 5)))
    assert events == ["osd.1 down (osdmap epoch 23)", "osd.1 out"]
    events, _ = osd_events(23, states, dump((0, 1, 1, 21, 22), (1, 1, 1, 23, 24)))
    assert events == ["osd.1 up (osdmap epoch 24)", "osd.1 in"]


def test_report_lines_fit_a_terminal_and_say_when_nothing_happened():
    watch = ClusterWatch("ceph.conf")
    assert watch.report_lines() == ["cluster: no event (0 status answers)"]
    watch.events = [{"second": 3, "event": "HEALTH_WARN: Reduced data availability: 73 pgs inactive, 73 pgs peering"}]
    lines = watch.report_lines(60)
    assert len(lines) == 2 and all(len(line) <= 60 for line in lines)
    assert lines[0].startswith("cluster at    4s: HEALTH_WARN") and lines[1].startswith(" " * 18)
