"""Cluster mode's pure parts: the stream's sparse arrays, the shipped files, the exact merge of
host outcomes and the version check."""
import dataclasses

import numpy as np
import pytest

from chopsticks.backends.block import BlockIo
from chopsticks.backends.null import NullTarget
from chopsticks.backends.rbd import RbdTarget
from chopsticks.cluster import files, stream
from chopsticks.cluster.hosts import Host, check_versions
from chopsticks.cluster.outcome import HostResult, StreamedSecond, from_stream, merge, tick_percentiles
from chopsticks.engine.pool import RunOutcome
from chopsticks.engine.shm import ERR_CODES, N_PHASES, NBUCKETS, TS_FIELDS, Phase, TsField
from chopsticks.errors import ChopsticksError
from chopsticks.metrics.summary import summarize
from chopsticks.plan import Plan


def test_sparse_round_trip_keeps_every_count():
    a = np.zeros((N_PHASES, 2, NBUCKETS), dtype=np.uint64)
    a[1, 0, 7], a[1, 1, NBUCKETS - 1], a[0, 0, 0] = 5, 2**63, 1
    s = stream.sparse(a)
    assert s[1] == [0, 2 * NBUCKETS + 7, 3 * NBUCKETS + NBUCKETS - 1]
    assert np.array_equal(stream.dense(s, np.uint64), a)


def test_shipped_files_are_rewritten_in_a_private_directory(tmp_path):
    conf, keyring = tmp_path / "ceph.conf", tmp_path / "k.keyring"
    conf.write_text("[global]\n")
    keyring.write_text("[client.admin]\n\tkey = secret\n")
    target = RbdTarget(conf=str(conf), keyring=str(keyring), io=BlockIo())
    shipped = files.collect(target)
    assert shipped == {str(conf): b"[global]\n", str(keyring): b"[client.admin]\n\tkey = secret\n"}
    host_dir = tmp_path / "host"
    host_dir.mkdir()
    moved = files.write_private(shipped, str(host_dir))
    relocated = files.relocate(target, moved)
    assert relocated.conf.startswith(str(host_dir)) and relocated.keyring.startswith(str(host_dir))
    assert open(relocated.keyring).read() == keyring.read_text()
    assert (host_dir / "0").stat().st_mode & 0o777 == 0o700
    assert dataclasses.replace(relocated, conf=target.conf, keyring=target.keyring) == target


def _outcome(plan: Plan, ops_per_second: list[int], bucket: int) -> RunOutcome:
    secs, n_ops = len(ops_per_second), 1
    hist = np.zeros((plan.procs, N_PHASES, n_ops, NBUCKETS), dtype=np.uint64)
    hist[0, Phase.MEASURED, 0, bucket] = sum(ops_per_second)
    ts = np.zeros((plan.procs, secs, n_ops, TS_FIELDS), dtype=np.int64)
    ts[0, :, 0, TsField.OPS] = ops_per_second
    ts[0, :, 0, TsField.BYTES] = np.array(ops_per_second) * 4096
    nan = np.full((secs, n_ops), np.nan)
    return RunOutcome(plan=plan, info={"image_bytes": {}}, op_names=("write",), hist=hist, ts=ts,
                      errors=np.zeros((plan.procs, N_PHASES, n_ops, ERR_CODES), dtype=np.int64),
                      tick_p50_ns=nan, tick_p99_ns=nan, tick_p99_9_ns=nan,
                      workers=[{"index": 0, "cpu": 0}], start_ns=10**12, ramp_end_ns=10**12,
                      end_ns=10**12 + secs * 10**9, started_at=0.0)


def test_merge_sums_the_hosts_exactly():
    plan = Plan(target=NullTarget(io=BlockIo()), procs=1, cpus=(0,), max_inflight=1, duration_s=3.0)
    hosts = [Host(0, "a", "tcp://a", 1, 0, 0.0, 0.001), Host(1, "b", "tcp://b", 1, 1, 0.002, 0.001)]
    results = [HostResult(hosts[0], _outcome(plan, [10, 10, 10], 100), 1.0),
               HostResult(hosts[1], _outcome(plan, [5, 5], 400), 1.004)]
    merged = merge(plan, results, tick_percentiles([None] * 3, 1), 0.0, None, [])
    rows = summarize(merged)
    assert rows[-1]["ops"] == 40 == sum(summarize(r.outcome)[-1]["ops"] for r in results)
    assert merged.ts.shape[:2] == (2, 3) and merged.measured_s == 3.0
    assert [w["host"] for w in merged.workers] == ["a", "b"] and [w["index"] for w in merged.workers] == [0, 1]
    assert not merged.partial


def test_a_lost_host_is_rebuilt_from_its_stream():
    plan = Plan(target=NullTarget(io=BlockIo()), procs=2, cpus=(0, 1), max_inflight=1, duration_s=10.0)
    seconds = {}
    for s in range(3):
        ts = np.zeros((1, TS_FIELDS), dtype=np.int64)
        ts[0, TsField.OPS] = 7
        hist = np.zeros((N_PHASES, 1, NBUCKETS), dtype=np.uint64)
        hist[Phase.MEASURED, 0, 50] = 7
        msg = stream.second(0, s, ts, hist, np.zeros((N_PHASES, 1, ERR_CODES), dtype=np.int64), np.array([1.0, 2.0]),
                            False, False)
        seconds[s] = StreamedSecond.decode(msg)
    out = from_stream(plan, ("write",), seconds, 0.0, "gone")
    assert summarize(out)[-1]["ops"] == 21 and out.measured_s == 3.0 and out.partial
    assert [w["state"] for w in out.workers] == ["lost", "lost"]


def test_version_mismatch_names_the_host_and_the_package():
    import platform

    import dask
    import distributed

    from chopsticks import __version__
    same = {"chopsticks": __version__, "dask": dask.__version__, "distributed": distributed.__version__,
            "python": platform.python_version()}
    check_versions({"tcp://a": same}, {"tcp://a": "a"})
    with pytest.raises(ChopsticksError, match=r"host b \(tcp://b\) runs chopsticks 0\.0\.1, this client"):
        check_versions({"tcp://a": same, "tcp://b": {**same, "chopsticks": "0.0.1"}}, {"tcp://a": "a", "tcp://b": "b"})
