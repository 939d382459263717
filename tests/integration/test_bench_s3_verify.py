"""`bench s3 --verify` with the Python drivers (issue #14): every PUT body stamped, every GET body
checked against its stamps and this run's last write of the object; an object changed behind
chopsticks' back is caught and named; a driver that does not return GET bodies is refused."""
import os
from pathlib import Path

import pytest

from helpers.engine_cli import bench, load_json
from helpers.s3_tampering import CORRUPTED, CORRUPTED_BYTE
from helpers.s3_verify import checked_blocks, config_file

TESTS_DIR = str(Path(__file__).resolve().parents[1])


def lab_config(tmp_path, lab, driver):
    return config_file(tmp_path / "s3.yaml", endpoint=lab.s3_endpoint, access_key=lab.access_key,
                       secret_key=lab.secret_key, bucket=lab.bucket, driver=driver)


def run(tmp_path, config, *args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [TESTS_DIR, os.environ.get("PYTHONPATH")]))}
    r = bench("s3", "--workload-config", config, "--verify", "--json", tmp_path / "r.json", "--no-save", *args,
              env=env)
    return r, load_json(tmp_path / "r.json") if (tmp_path / "r.json").exists() else None


def mixed(tmp_path, config):
    r, doc = run(tmp_path, config, "--op", "mixed", "--mix", "put=40,get=40,head=5,delete=10,list=5", "--procs", 2,
                 "--concurrency", 2, "--objects", 3, "--duration", "2s")
    assert r.returncode == 0, r.stdout + r.stderr
    rows = {row["op"]: row for row in doc["summary"]}
    assert doc["errors_by_kind"] == {} and rows["all"]["errors"] == 0
    assert all(" 0 failed" in w["message"] for w in doc["workers"]), doc["workers"]
    assert checked_blocks(doc) >= rows["get"]["ops"] > 0            # every GET checked: one 4 KiB block each
    assert doc["settings"]["target"]["verify"] is True
    return rows


def test_mixed_run_with_the_mock_driver_verifies_clean(tmp_path):
    config = config_file(tmp_path / "s3.yaml", endpoint="http://127.0.0.1:1", access_key="a", secret_key="s",
                         bucket="b", driver="mock")
    assert mixed(tmp_path, config)["get"]["ops"] > 100


@pytest.mark.parametrize("driver", ["boto3", "s5cmd"])      # s5cmd: its `cat` pipes the body back
def test_mixed_run_against_rgw_verifies_clean(lab, tmp_path, driver):
    mixed(tmp_path, lab_config(tmp_path, lab, driver))


def test_an_object_changed_behind_its_back_is_caught_and_named(lab, tmp_path):
    config = lab_config(tmp_path, lab, "helpers.s3_tampering:CorruptingBoto3Driver")
    # 100 GETs of 4 objects picked at random: the changed one is read ((3/4)^100 odds it is not; a
    # 2 s run may do only a dozen GETs on a loaded machine, and this test once failed that way)
    r, doc = run(tmp_path, config, "--op", "get", "--procs", 1, "--concurrency", 1, "--objects", 4,
                 "--io-total", "400k")
    assert r.returncode == 4, r.stdout + r.stderr                   # verify failures are op errors
    failed = doc["errors_by_kind"]["get"]["verify"]
    rows = {row["op"]: row for row in doc["summary"]}
    assert set(doc["errors_by_kind"]) == {"get"} and failed == rows["get"]["errors"] > 0
    report = doc["workers"][0]["message"]
    assert f"{failed:,} failed" in report and checked_blocks(doc) > 0     # the three other objects read clean
    # the 4 KiB block holding the changed byte, by the byte it starts at in the object
    assert f"corrupt at byte {CORRUPTED_BYTE // 4096 * 4096} of chopsticks-bench/" in report
    assert f"-w0-t0{CORRUPTED} (expected write w0#2, found w0#2)" in report
    assert "never written" in report and "lost" not in report and "misplaced" not in report
    assert r.stderr.count("did not return what this run wrote") == 1, r.stderr     # said once, live


def test_a_driver_that_does_not_return_get_bodies_is_refused_before_the_run(tmp_path):
    config = config_file(tmp_path / "s3.yaml", endpoint="http://127.0.0.1:1", access_key="a", secret_key="s",
                         bucket="b", driver="helpers.s3_tampering:BodilessDriver")
    r, doc = run(tmp_path, config, "--op", "get", "--duration", "1s")
    assert r.returncode == 1 and doc is None
    assert r.stderr.strip().splitlines() == [
        "chopsticks: error: --verify checks GET bodies, but driver 'helpers.s3_tampering:BodilessDriver' does "
        "not return them: its download() gave 0 bytes for an object of 4,096 bytes it had just uploaded; run "
        "without --verify or use a driver that returns the bytes (boto3, s5cmd, native)"]


def test_objects_too_small_to_stamp_are_refused(tmp_path):
    config = config_file(tmp_path / "s3.yaml", endpoint="http://127.0.0.1:1", access_key="a", secret_key="s",
                         bucket="b", driver="mock")
    r, _ = run(tmp_path, config, "--op", "put", "--size", "16-4k", "--duration", "1s")
    assert r.returncode == 1 and r.stderr.strip().splitlines() == [
        "chopsticks: error: --verify stamps objects of 32 bytes (the stamp) to 64 GiB; --size is 16-4,096 bytes"]
