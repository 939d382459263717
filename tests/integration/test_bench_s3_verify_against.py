"""`bench s3 --verify-against` with the Python drivers (issue #14): a run goes on from an earlier
run's objects and verify map (kept beside its JSON result when it wrote with --verify
--no-cleanup), so its GETs also catch an object holding an older valid write than the earlier
run's last one (stale); a map of other settings is refused before any load (the native driver's
maps: test_bench_s3_native_verify_against.py)."""
import numpy as np
import pytest

from chopsticks._fast.payload import STAMP_LAYOUT, verify_block
from helpers.s3_verify import (bucket_of, checked_blocks, client, config_file, mixed_run_chains_its_map,
                               object_count, own_bucket, round_trip_reads_clean, run)


@pytest.fixture
def config(lab, tmp_path):
    """A boto3 config on a bucket of this test's own, emptied and removed at the end."""
    with own_bucket(lab, "verify-against") as bucket:
        yield config_file(tmp_path / "s3.yaml", endpoint=lab.s3_endpoint, access_key=lab.access_key,
                          secret_key=lab.secret_key, bucket=bucket, driver="boto3")


def test_a_run_reads_the_earlier_runs_objects_clean(lab, config, tmp_path):
    round_trip_reads_clean(lab, config, tmp_path)


def test_a_mixed_run_against_the_first_chains_a_map_of_what_it_left(lab, config, tmp_path):
    mixed_run_chains_its_map(lab, config, tmp_path, "240k")


def test_a_lost_write_is_found_stale_where_plain_verify_finds_nothing(lab, config, tmp_path):
    s3, bucket = client(lab), bucket_of(config)
    one = {"procs": 1, "concurrency": 1}
    r, _ = run(config, tmp_path / "r1.json", "--op", "put", "--verify", "--no-cleanup", "--io-total", "16k", **one)
    assert r.returncode == 0, r.stdout + r.stderr
    earlier = np.load(tmp_path / "r1.verify.npz")
    assert earlier["w0_threads"].tolist() == [-1, 0, 0, 0, 0]
    key = f"{earlier['w0_base']}-t0/000000001"                      # the worker's first object
    old = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    # Run 2 rewrites the first two objects (as writes 5 and 6 of worker 0), then keeps its map.
    r, _ = run(config, tmp_path / "r2.json", "--op", "put", "--verify-against", tmp_path / "r1.json",
               "--no-cleanup", "--io-total", "8k", **one)
    assert r.returncode == 0, r.stdout + r.stderr
    chained = np.load(tmp_path / "r2.verify.npz")
    assert chained["w0_last_seq"].tolist() == [0, 5, 6, 3, 4] and int(chained["w0_writes"]) == 6
    s3.put_object(Bucket=bucket, Key=key, Body=old)                 # run 2's write there is lost
    r, doc = run(config, tmp_path / "r3.json", "--op", "get", "--verify-against", tmp_path / "r2.json",
                 "--io-total", "400k", **one)
    assert r.returncode == 4, r.stdout + r.stderr
    failed = doc["errors_by_kind"]["get"]["verify"]
    assert doc["errors_by_kind"] == {"get": {"verify": failed}} and failed >= 1
    assert f"stale at byte 0 of {key} (expected write w0#5, found w0#1)" in doc["workers"][0]["message"]
    assert checked_blocks(doc) == 100 - failed                      # the three other objects read clean
    # What --verify alone checks of a body it did not write passes: the old write is valid.
    assert verify_block(old, 1 << STAMP_LAYOUT["object_shift"]) == ("ok", 1)


def test_a_map_of_other_settings_is_refused_in_one_line_before_any_load(lab, config, tmp_path):
    r, _ = run(config, tmp_path / "r1.json", "--op", "put", "--verify", "--no-cleanup", "--io-total", "16k")
    assert r.returncode == 0, r.stdout + r.stderr
    for option, value, named in [("--seed", 2, "--seed differs from the earlier run's (1 there, 2 here)"),
                                 ("--size", "8k", "--size differs from the earlier run's (4096 there, 8192 here)"),
                                 ("--procs", 1, "--procs differs from the earlier run's (2 there, 1 here)")]:
        r, doc = run(config, tmp_path / "r2.json", "--op", "mixed", "--verify-against", tmp_path / "r1.json",
                     option, value)
        assert r.returncode == 1 and doc is None, r.stdout + r.stderr
        assert r.stderr.strip().splitlines() == [f"chopsticks: error: --verify-against: {named}: its map does "
                                                 "not describe these keys"]
    assert object_count(lab, config) == 4


def test_no_map_beside_the_result_is_refused_in_one_line(lab, config, tmp_path):
    r, _ = run(config, tmp_path / "r1.json", "--op", "put", "--verify", "--io-total", "16k")   # with --cleanup
    assert r.returncode == 0 and not (tmp_path / "r1.verify.npz").exists(), r.stdout + r.stderr
    r, doc = run(config, tmp_path / "r2.json", "--op", "get", "--verify-against", tmp_path / "r1.json")
    assert r.returncode == 1 and doc is None
    assert r.stderr.strip().splitlines() == [
        f"chopsticks: error: --verify-against {tmp_path / 'r1.json'}: no verify map {tmp_path / 'r1.verify.npz'} "
        "(a run keeps one when it writes with --verify; bench rados and s3 also need --no-cleanup)"]
