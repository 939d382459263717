"""What the `bench s3 --verify` / `--verify-against` tests share: a boto3 client on the lab, a
bucket of a test's own (emptied and removed after it), a run with its JSON result, and the blocks
a run's workers checked (from their result lines)."""
import contextlib
import uuid

import boto3

from helpers.engine_cli import bench, load_json


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


def checked_blocks(doc) -> int:
    return sum(int(w["message"].split(" blocks checked")[0].split()[-1].replace(",", "")) for w in doc["workers"])
