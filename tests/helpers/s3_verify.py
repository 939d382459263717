"""What the `bench s3 --verify` / `--verify-against` tests share: a boto3 client on the lab, a
bucket of a test's own (emptied and removed after it), a run with its JSON result, and the blocks
a run's workers checked (from their result lines)."""
import contextlib
import uuid

import boto3

from helpers.engine_cli import bench, checked_blocks, load_json


def client(lab):
    return boto3.client("s3", endpoint_url=lab.s3_endpoint, aws_access_key_id=lab.access_key,
                        aws_secret_access_key=lab.secret_key, region_name="us-east-1")


@contextlib.contextmanager
def own_bucket(lab, name: str):
    """A fresh bucket name starting with `name`; whatever the test left in it is removed after."""
    bucket = f"{name}-{uuid.uuid4().hex[:8]}"
    try:
        yield bucket
    finally:
        s3 = client(lab)
        try:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
            s3.delete_bucket(Bucket=bucket)
        except s3.exceptions.NoSuchBucket:
            pass


def config_file(path, **values):
    path.write_text("".join(f"{k}: {v}\n" for k, v in values.items()))
    return path


def bucket_of(config) -> str:
    return next(line.split(": ", 1)[1] for line in config.read_text().splitlines() if line.startswith("bucket:"))


def object_count(lab, config) -> int:
    return client(lab).list_objects_v2(Bucket=bucket_of(config)).get("KeyCount", 0)


def run(config, out, *args, procs=2, concurrency=2):
    """`bench s3` with `config` and its JSON result at `out`: (the process, the result or None)."""
    r = bench("s3", "--workload-config", config, "--procs", procs, "--concurrency", concurrency, "--no-save",
              "--quiet", "--json", out, *args, timeout=120)
    return r, load_json(out) if out.exists() else None




def summary_rows(doc) -> dict:
    return {row["op"]: row for row in doc["summary"]}


def round_trip_reads_clean(lab, config, tmp_path):
    """A --verify --no-cleanup PUT run of 16 objects (2 workers × 8), then a GET run against its map
    reading them clean: 50 GETs, each checking its one 4 KiB block, nothing prefilled, nothing
    removed, no map of its own kept. Returns the first run's verify map."""
    import numpy as np

    r, _ = run(config, tmp_path / "r1.json", "--op", "put", "--verify", "--no-cleanup", "--io-total", "64k")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"wrote {tmp_path / 'r1.verify.npz'}" in r.stdout and object_count(lab, config) == 16
    r, doc = run(config, tmp_path / "r2.json", "--op", "get", "--verify-against", tmp_path / "r1.json",
                 "--io-total", "200k")
    assert r.returncode == 0, r.stdout + r.stderr
    rows = summary_rows(doc)
    assert doc["errors_by_kind"] == {} and rows["get"]["ops"] == 50 and "put" not in rows
    assert checked_blocks(doc) == 50                                # every GET: its one 4 KiB block
    assert all(" 0 never written" in w["message"] and " 0 failed" in w["message"] for w in doc["workers"])
    assert object_count(lab, config) == 16          # nothing prefilled, and --cleanup left the earlier ones
    assert not (tmp_path / "r2.verify.npz").exists()                # a run that only reads keeps no map
    return np.load(tmp_path / "r1.verify.npz")


def mixed_run_chains_its_map(lab, config, tmp_path, io_total: str) -> dict:
    """A --verify --no-cleanup PUT run of 16 objects; a mixed run against its map (put 40, get 30,
    delete 20, head 10) that keeps its own map, of exactly the objects left; a GET run against that
    chained map reading clean. Returns the mixed run's summary rows and its map."""
    import numpy as np

    r, _ = run(config, tmp_path / "r1.json", "--op", "put", "--verify", "--no-cleanup", "--io-total", "64k")
    assert r.returncode == 0, r.stdout + r.stderr
    r, doc = run(config, tmp_path / "r2.json", "--op", "mixed", "--mix", "put=40,get=30,delete=20,head=10",
                 "--verify-against", tmp_path / "r1.json", "--no-cleanup", "--io-total", io_total)
    assert r.returncode == 0 and doc["errors_by_kind"] == {}, r.stdout + r.stderr
    mixed = summary_rows(doc)
    assert mixed["delete"]["ops"] > 0 and checked_blocks(doc) >= mixed["get"]["ops"] > 0
    chained = np.load(tmp_path / "r2.verify.npz")
    left = sum(np.count_nonzero(chained[f"w{i}_last_seq"]) for i in range(2))
    assert left == object_count(lab, config)                        # the map holds every object there, no more
    r, doc = run(config, tmp_path / "r3.json", "--op", "get", "--verify-against", tmp_path / "r2.json",
                 "--io-total", "200k")
    assert r.returncode == 0 and doc["errors_by_kind"] == {}, r.stdout + r.stderr
    assert checked_blocks(doc) == summary_rows(doc)["get"]["ops"] > 0
    assert all(" 0 never written" in w["message"] for w in doc["workers"])
    return mixed, chained
