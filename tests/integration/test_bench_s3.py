"""`chopsticks bench s3` on the engine: mixed ops with the mock driver (always) and with the
real drivers against the lab's RGW."""
import csv
import os
from pathlib import Path

import pytest

from helpers.engine_cli import bench, load_json


def write_config(tmp_path, **overrides):
    values = {"endpoint": "http://127.0.0.1:1", "access_key": "a", "secret_key": "s", "bucket": "b", "driver": "mock"}
    values.update(overrides)
    path = tmp_path / "s3.yaml"
    path.write_text("".join(f"{k}: {v}\n" for k, v in values.items()))
    return path


def check_mixed_run(tmp_path, *args):
    r = bench("s3", *args, "--op", "mixed", "--mix", "put=40,get=40,head=10,delete=5,list=5", "--procs", 2,
              "--concurrency", 2, "--objects", 3, "--json", tmp_path / "r.json", "--csv", tmp_path / "r.csv",
              "--quiet", timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = load_json(tmp_path / "r.json")
    rows = {row["op"]: row for row in doc["summary"]}
    assert {"put", "get", "all"} <= set(rows)
    assert sum(rows[op]["ops"] for op in rows if op != "all") == rows["all"]["ops"]
    assert rows["all"]["ops"] + rows["all"]["errors"] + doc["drain_ops"] == sum(w["completed"] for w in doc["workers"])
    assert rows["put"]["bytes"] == rows["put"]["ops"] * 4096
    assert doc["settings"]["target"]["config"]["secret_key"] == "***"
    csv_ops = {row["op"]: int(row["ops"]) for row in csv.DictReader(open(tmp_path / "r.csv"))}
    assert csv_ops == {op: row["ops"] for op, row in rows.items()}
    return doc


def test_mixed_with_the_mock_driver(tmp_path):
    doc = check_mixed_run(tmp_path, "--workload-config", write_config(tmp_path), "--duration", "2s")
    assert doc["summary"][-1]["ops"] > 100


def test_a_custom_driver_named_module_class_runs_in_a_bench(tmp_path):
    tests_dir = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [tests_dir, os.environ.get("PYTHONPATH")]))}
    config = write_config(tmp_path, driver="helpers.custom_driver:DictDriver")
    r = bench("s3", "--workload-config", config, "--op", "mixed", "--mix", "put=50,get=50", "--procs", 2,
              "--concurrency", 2, "--objects", 2, "--duration", "1s", "--json", tmp_path / "r.json", "--quiet",
              env=env)
    assert r.returncode == 0, r.stderr
    doc = load_json(tmp_path / "r.json")
    rows = {row["op"]: row for row in doc["summary"]}
    assert rows["put"]["ops"] > 10 and rows["get"]["ops"] > 10 and rows["all"]["errors"] == 0
    assert doc["settings"]["target"]["config"]["driver"] == "helpers.custom_driver:DictDriver"


def test_failures_are_counted_by_kind_and_exit_non_zero(tmp_path):
    config = write_config(tmp_path, driver_config="{failure_rate: 1.0}")
    r = bench("s3", "--workload-config", config, "--duration", "1s", "--procs", 1, "--json", tmp_path / "r.json",
              "--quiet")
    assert r.returncode == 4
    assert "errors put:" in r.stdout and "Traceback" not in r.stderr
    assert load_json(tmp_path / "r.json")["summary"][-1]["errors"] > 0


def test_unknown_driver_is_a_one_line_error(tmp_path):
    r = bench("s3", "--workload-config", write_config(tmp_path), "--driver", "nosuch", "--duration", "1s")
    assert r.returncode == 1 and "unknown S3 driver 'nosuch'" in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.ceph
@pytest.mark.parametrize("driver", ["boto3", "s5cmd"])
def test_mixed_against_rgw(lab, tmp_path, driver):
    doc = check_mixed_run(tmp_path, "--workload-config", lab.s3_config, "--driver", driver, "--duration", "3s")
    assert doc["summary"][-1]["ops"] > 5


@pytest.mark.ceph
def test_wrong_secret_against_rgw(lab, tmp_path):
    config = write_config(tmp_path, endpoint=lab.s3_endpoint, access_key=lab.access_key, secret_key="wrong",
                          bucket=lab.bucket, driver="boto3")
    r = bench("s3", "--workload-config", config, "--duration", "1s", "--procs", 1)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "auth" in (r.stdout + r.stderr).lower() or "denied" in (r.stdout + r.stderr).lower()
