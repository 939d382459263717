"""`bench s3 --driver native --verify-against` (issue #14): a native --verify --no-cleanup run that
writes keeps a verify map in the Python drivers' fields (its keys named the native way: the
worker's base + a 12-digit serial, its objects spread over its connections); a native run against
it prefills nothing, reads the earlier objects with the earlier record, rewrites them first (in
parts, for multipart objects) with write numbers going on, deletes only its own at cleanup and
chains its map; a map of the other key scheme (a Python driver's) is refused in one line before
any load, both ways."""
import numpy as np
import pytest

from helpers.s3_verify import (bucket_of, checked_blocks, client, config_file, mixed_run_chains_its_map,
                               object_count, own_bucket, round_trip_reads_clean, run)

ceph = pytest.mark.ceph


@pytest.fixture
def configs(lab, tmp_path):
    """{driver: config file} on one bucket of this test's own, emptied and removed at the end."""
    with own_bucket(lab, "native-against") as bucket:
        yield {driver: config_file(tmp_path / f"{driver}.yaml", endpoint=lab.s3_endpoint, access_key=lab.access_key,
                                   secret_key=lab.secret_key, bucket=bucket, driver=driver)
               for driver in ("native", "boto3")}


@ceph
def test_a_native_run_reads_the_earlier_runs_objects_clean(lab, configs, tmp_path):
    earlier = round_trip_reads_clean(lab, configs["native"], tmp_path)
    for w in range(2):                  # 8 objects a worker, serials 1 .. 8, each written once
        assert sorted(earlier[f"w{w}_last_seq"].tolist()) == [0] + [w << 44 | s for s in range(1, 9)]
        assert earlier[f"w{w}_sizes"].tolist() == [0] + [4096] * 8 and int(earlier[f"w{w}_writes"]) == 8
        # serial 0 is no object; each other one was PUT by one of the worker's two connections
        # (whichever was free: how many each took depends on timing)
        threads = earlier[f"w{w}_threads"].tolist()
        assert threads[0] == -1 and len(threads) == 9 and set(threads[1:]) <= {0, 1}


@ceph
def test_a_mixed_native_run_chains_a_map_of_what_it_left(lab, configs, tmp_path):
    mixed, chained = mixed_run_chains_its_map(lab, configs["native"], tmp_path, "400k")
    assert mixed["put"]["ops"] > 16
    # each PUT (the first 8 of a worker rewrite its earlier objects) took the worker's next write number
    assert sum(int(chained[f"w{w}_writes"]) for w in range(2)) == 16 + mixed["put"]["ops"]


@ceph
def test_multipart_objects_are_rewritten_in_parts_and_read_back_clean(lab, configs, tmp_path):
    native = configs["native"]
    parts = ["--size", "12M", "--multipart-threshold", "5M", "--part-size", "5M"]
    one = {"procs": 1, "concurrency": 2}
    r, _ = run(native, tmp_path / "r1.json", "--op", "put", *parts, "--verify", "--no-cleanup",
               "--io-total", "24M", **one)
    assert r.returncode == 0, r.stdout + r.stderr
    assert np.load(tmp_path / "r1.verify.npz")["w0_last_seq"].tolist() == [0, 1, 2]
    r, doc = run(native, tmp_path / "r2.json", "--op", "put", *parts, "--verify-against", tmp_path / "r1.json",
                 "--no-cleanup", "--io-total", "24M", **one)
    assert r.returncode == 0 and doc["errors_by_kind"] == {}, r.stdout + r.stderr
    chained = np.load(tmp_path / "r2.verify.npz")
    assert sorted(chained["w0_last_seq"].tolist()) == [0, 0, 0, 3, 4]      # both rewritten, as writes 3 and 4
    assert object_count(lab, native) == 2
    r, doc = run(native, tmp_path / "r3.json", "--op", "get", *parts, "--verify-against", tmp_path / "r2.json",
                 "--io-total", "60M", **one)
    assert r.returncode == 0 and doc["errors_by_kind"] == {}, r.stdout + r.stderr
    assert checked_blocks(doc) == 5 * 3072                          # 5 GETs of 12 MiB, every 4 KiB block


@ceph
def test_a_lost_native_write_is_found_stale(lab, configs, tmp_path):
    native, s3 = configs["native"], client(lab)
    one = {"procs": 1, "concurrency": 1}
    r, _ = run(native, tmp_path / "r1.json", "--op", "put", "--verify", "--no-cleanup", "--io-total", "16k", **one)
    assert r.returncode == 0, r.stdout + r.stderr
    earlier = np.load(tmp_path / "r1.verify.npz")
    assert earlier["w0_last_seq"].tolist() == [0, 1, 2, 3, 4] and earlier["w0_threads"].tolist() == [-1, 0, 0, 0, 0]
    key = f"{earlier['w0_base']}{1:012d}"                           # the worker's first object
    old = s3.get_object(Bucket=bucket_of(native), Key=key)["Body"].read()
    # Run 2 rewrites the first two objects (as writes 5 and 6 of worker 0), then keeps its map.
    r, _ = run(native, tmp_path / "r2.json", "--op", "put", "--verify-against", tmp_path / "r1.json",
               "--no-cleanup", "--io-total", "8k", **one)
    assert r.returncode == 0, r.stdout + r.stderr
    chained = np.load(tmp_path / "r2.verify.npz")
    assert chained["w0_last_seq"].tolist() == [0, 5, 6, 3, 4, 0, 0] and int(chained["w0_writes"]) == 6
    assert str(chained["w0_base"]) == str(earlier["w0_base"]) and object_count(lab, native) == 4
    s3.put_object(Bucket=bucket_of(native), Key=key, Body=old)      # run 2's write there is lost
    r, doc = run(native, tmp_path / "r3.json", "--op", "get", "--verify-against", tmp_path / "r2.json",
                 "--io-total", "400k", **one)
    assert r.returncode == 4, r.stdout + r.stderr
    failed = doc["errors_by_kind"]["get"]["verify"]
    assert doc["errors_by_kind"] == {"get": {"verify": failed}} and failed >= 1
    assert f"stale at byte 0 of {key} (expected write w0#5, found w0#1)" in doc["workers"][0]["message"]
    assert checked_blocks(doc) == 100 - failed                      # the three other objects read clean


@ceph
def test_a_map_of_the_other_key_scheme_is_refused_both_ways(lab, configs, tmp_path):
    scheme = {"native": "native", "boto3": "python drivers"}
    for writer, reader in [("boto3", "native"), ("native", "boto3")]:
        first = tmp_path / f"{writer}.json"
        r, _ = run(configs[writer], first, "--op", "put", "--verify", "--no-cleanup", "--io-total", "16k")
        assert r.returncode == 0, r.stdout + r.stderr
        r, doc = run(configs[reader], tmp_path / "r2.json", "--op", "get", "--verify-against", first)
        assert r.returncode == 1 and doc is None, r.stdout + r.stderr
        assert r.stderr.strip().splitlines() == [
            f"chopsticks: error: --verify-against: --driver (native or a Python one: they name keys apart) differs "
            f"from the earlier run's ({scheme[writer]} there, {scheme[reader]} here): its map does not describe "
            "these keys"]
    assert object_count(lab, configs["native"]) == 8                # 4 of each, nothing read nor prefilled


def test_verify_against_with_existing_is_a_usage_error(tmp_path):
    config = tmp_path / "native.yaml"
    config.write_text("endpoint: http://127.0.0.1:1\naccess_key: a\nsecret_key: s\nbucket: b\ndriver: native\n")
    r, doc = run(config, tmp_path / "r.json", "--op", "get", "--existing", "data/",
                 "--verify-against", tmp_path / "earlier.json")
    assert r.returncode == 2 and doc is None
    assert "--verify-against" in r.stderr and "leave out --existing" in r.stderr
