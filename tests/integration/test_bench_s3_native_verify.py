"""`bench s3 --driver native --verify` (issue #14) against the lab's RGW: every PUT body (and every
part) stamped per 4 KiB block with its object and write, every GET body checked in the loop; a
mixed run and ranged GETs of multipart objects verify clean, an object changed behind the loop's
back is caught and named by key and byte, and what cannot be checked is refused before the run."""
import re
import time

import pytest
import yaml

from helpers.engine_cli import bench, load_json, start_bench

ceph = pytest.mark.ceph


def native_config(lab, tmp_path):
    document = yaml.safe_load(lab.s3_config.read_text())
    document["driver"] = "native"
    path = tmp_path / "native.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def verify_counts(doc) -> tuple[int, int, int]:
    """(checked, never written, failed) blocks over the workers' --verify report lines."""
    totals = [0, 0, 0]
    for w in doc["workers"]:
        m = re.search(r"verify: ([\d,]+) blocks checked, ([\d,]+) never written by chopsticks \(not checked\), "
                      r"([\d,]+) failed", w["message"])
        assert m, w["message"]
        for i in range(3):
            totals[i] += int(m.group(i + 1).replace(",", ""))
    return tuple(totals)


def run(tmp_path, config, *args, returncode=0):
    r = bench("s3", "--workload-config", config, "--verify", *args, "--json", tmp_path / "r.json", "--no-save",
              timeout=180)
    assert r.returncode == returncode, r.stdout + r.stderr
    doc = load_json(tmp_path / "r.json")
    return r, doc, {row["op"]: row for row in doc["summary"]}


@ceph
def test_mixed_run_verifies_clean(lab, tmp_path):
    # sizes with a last block of their own (4k-20k), deletes and HEADs between the writes and reads
    _, doc, rows = run(tmp_path, native_config(lab, tmp_path), "--op", "mixed",
                       "--mix", "put=30,get=50,head=5,delete=10,list=5", "--size", "4k-20k", "--procs", 2,
                       "--concurrency", 4, "--objects", 3, "--duration", "3s")
    checked, unwritten, failed = verify_counts(doc)
    assert rows["all"]["errors"] == 0 and doc["errors_by_kind"] == {}
    assert rows["get"]["ops"] > 50
    assert checked >= rows["get"]["ops"] and unwritten == 0 and failed == 0
    assert doc["settings"]["target"]["verify"] is True


@ceph
def test_a_last_block_too_short_for_a_stamp_is_checked_by_length_only(lab, tmp_path):
    # 4,100 bytes: one stamped block and 4 bytes no stamp fits in (not "lost")
    _, doc, rows = run(tmp_path, native_config(lab, tmp_path), "--op", "mixed", "--mix", "put=1,get=3",
                       "--size", "4100", "--procs", 1, "--concurrency", 2, "--objects", 2, "--duration", "2s")
    checked, unwritten, failed = verify_counts(doc)
    assert rows["get"]["ops"] > 0 and rows["all"]["errors"] == 0
    assert checked >= rows["get"]["ops"] and unwritten == 0 and failed == 0     # one block per GET (drain's too)


@ceph
def test_ranged_gets_of_multipart_objects_verify_clean(lab, tmp_path):
    # 24 MiB objects PUT in 8 MiB parts (on either connection), read by 5 MiB ranges at random
    # offsets: the blocks each range covers whole carry the stamps of the part that wrote them
    _, doc, rows = run(tmp_path, native_config(lab, tmp_path), "--op", "get", "--size", "24M",
                       "--multipart-threshold", "16M", "--part-size", "8M", "--range-size", "5M", "--procs", 1,
                       "--concurrency", 2, "--objects", 1, "--duration", "2s")
    checked, unwritten, failed = verify_counts(doc)
    assert rows["get"]["ops"] > 0 and rows["all"]["errors"] == 0
    assert checked >= rows["get"]["ops"] * (5 * 256 - 1) and unwritten == 0 and failed == 0


def flip_a_byte_of_the_third_block(body: bytearray) -> bytearray:
    body[2 * 4096 + 100] ^= 0xFF
    return body


def cut_after_two_blocks(body: bytearray) -> bytearray:
    return body[:2 * 4096]                  # every block left is valid: only its length tells


@ceph
@pytest.mark.parametrize("change, failure", [(flip_a_byte_of_the_third_block, "corrupt at byte 8,192"),
                                             (cut_after_two_blocks, "lost at byte 8,192")])
def test_an_object_changed_behind_the_loop_s_back_is_caught_and_named(lab, tmp_path, change, failure):
    """While a GET run reads its 4 prefilled objects of 20,000 bytes (5 stamped blocks each), one of
    them is rewritten with boto3, changed: its reads fail as 'verify' errors of GET, the report
    names the key and where the change starts."""
    import boto3

    from chopsticks.config import load_s3_config

    config = load_s3_config(lab.s3_config)
    s3 = boto3.client("s3", endpoint_url=config.endpoint, aws_access_key_id=config.access_key,
                      aws_secret_access_key=config.secret_key, region_name=config.region)
    started = int(time.time())
    proc = start_bench("s3", "--workload-config", native_config(lab, tmp_path), "--verify", "--op", "get",
                       "--size", "20000", "--procs", 1, "--concurrency", 1, "--objects", 4, "--duration", "5s",
                       "--json", tmp_path / "r.json", "--no-save", "--quiet")
    try:
        key = None
        deadline = time.monotonic() + 60
        while key is None and time.monotonic() < deadline and proc.poll() is None:
            listed = s3.list_objects_v2(Bucket=config.bucket, Prefix="chopsticks-bench/").get("Contents", [])
            ours = sorted(o["Key"] for o in listed if o["Size"] == 20000
                          and int(o["Key"].split("/")[1].split("-")[0]) >= started)
            if len(ours) == 4:
                key = ours[1]
            else:
                time.sleep(0.05)
        assert key is not None, "the run's prefilled objects did not show up"
        body = bytearray(s3.get_object(Bucket=config.bucket, Key=key)["Body"].read())
        s3.put_object(Bucket=config.bucket, Key=key, Body=bytes(change(body)))
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 4, stdout + stderr             # verify failures are op errors
    doc = load_json(tmp_path / "r.json")
    rows = {row["op"]: row for row in doc["summary"]}
    failed_gets = doc["errors_by_kind"]["get"]["verify"]
    assert set(doc["errors_by_kind"]) == {"get"} and failed_gets == rows["get"]["errors"] > 0
    checked, unwritten, failed = verify_counts(doc)
    assert failed == failed_gets and checked > 0 and unwritten == 0   # the three others (and before) read clean
    serial = int(key.rsplit("/", 1)[1])
    report = doc["workers"][0]["message"]
    found = f"w0#{serial}" if failure.startswith("corrupt") else "-"       # a missing block has no stamp
    assert f"{failure} of {key} (expected write w0#{serial}, found {found})" in report


@pytest.mark.parametrize("args, hint, message", [
    (["--op", "put"], "--verify", "checks GET bodies: needs GETs in the mix"),
    (["--op", "mixed", "--mix", "put=1,head=1"], "--verify", "checks GET bodies: needs GETs in the mix"),
    (["--op", "get", "--size", "64M", "--multipart-threshold", "16M", "--part-size", "5243000"], "--part-size",
     "parts must be whole 4 KiB blocks"),
    (["--op", "get", "--size", "512M", "--concurrency", "4"], "--verify",
     "4 × 536,870,912 bytes is more than 1 GiB"),
])
def test_what_verify_cannot_check_is_a_usage_error(tmp_path, args, hint, message):
    config = tmp_path / "native.yaml"
    config.write_text("endpoint: http://127.0.0.1:1\naccess_key: a\nsecret_key: s\nbucket: b\ndriver: native\n")
    r = bench("s3", "--workload-config", config, "--verify", *args, "--duration", "1s")
    assert r.returncode == 2 and message in r.stderr and hint in r.stderr, r.stderr
