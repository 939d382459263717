"""`chopsticks bench s3 --driver native` against the lab's RGW, over http and https: the compiled
client's counts add up, TTFB is reported next to GET, and RGW's small-GET stall shows unless
TCP_QUICKACK is set; a wrong CA is a one-line error; against loopback servers that hang up (plain
or TLS) or vanish: failures are named, reconnects (and TLS handshakes) counted, refused connects
backed off."""
import csv
import socket
import ssl
import threading
import uuid

import pytest
import yaml

from helpers.engine_cli import bench, load_json
from helpers.lab_tls import other_ca, tls_config_of

PRIMARY_OPS = ("put", "get", "delete", "head", "list")
ceph = pytest.mark.ceph


def native_config(lab, tmp_path, tls=False, **driver_config):
    document = yaml.safe_load((tls_config_of(lab) if tls else lab.s3_config).read_text())
    document.update(driver="native", driver_config={**document["driver_config"], **driver_config})
    path = tmp_path / "native.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def run(tmp_path, config, *args):
    r = bench("s3", "--workload-config", config, *args, "--json", tmp_path / "r.json", "--csv", tmp_path / "r.csv",
              "--quiet", timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = load_json(tmp_path / "r.json")
    return doc, {row["op"]: row for row in doc["summary"]}


@ceph
def test_mixed_counts_add_up(lab, tmp_path):
    doc, rows = run(tmp_path, lab.s3_config, "--driver", "native", "--op", "mixed",
                    "--mix", "put=40,get=40,head=10,delete=5,list=5", "--procs", 2, "--concurrency", 4,
                    "--objects", 3, "--duration", "3s")
    assert set(PRIMARY_OPS) <= set(rows) and "get.ttfb" in rows
    done = sum(rows[op]["ops"] + rows[op]["errors"] for op in PRIMARY_OPS)
    # ops completing after the deadline are the drain, left out of the rows (drain_ops also
    # counts the get.ttfb and reconnect timings of drained GETs)
    assert done <= sum(w["completed"] for w in doc["workers"]) <= done + doc["drain_ops"]
    assert done > 100
    busy = [r for r in doc["timeseries"] if r["phase"] == "measured" and r["op"] in PRIMARY_OPS]
    assert 0 < max(r["inflight"] for r in busy) <= 8        # sampled: 2 workers × 4 connections
    assert rows["all"]["ops"] == sum(rows[op]["ops"] for op in PRIMARY_OPS)
    assert rows["all"]["errors"] == 0 and doc["errors_by_kind"] == {}
    assert rows["put"]["bytes"] == rows["put"]["ops"] * 4096
    assert rows["get"]["bytes"] == rows["get"]["ops"] * 4096
    assert rows["get.ttfb"]["ops"] == rows["get"]["ops"]
    assert rows["get.ttfb"]["lat_mean_us"] <= rows["get"]["lat_mean_us"]
    assert rows["get"]["lat_p50_us"] <= rows["get"]["lat_p99_us"] <= rows["get"]["lat_max_us"]
    assert doc["settings"]["target"]["config"]["secret_key"] == "***"
    csv_ops = {row["op"]: int(row["ops"]) for row in csv.DictReader(open(tmp_path / "r.csv"))}
    assert csv_ops == {op: row["ops"] for op, row in rows.items()}


@ceph
def test_small_get_stall_shows_in_latency_not_in_ttfb(lab, tmp_path):
    """RGW sends a small reply's header and body in two segments; with Nagle on its side and a
    delayed ACK on ours the body waits ~40 ms. The time to the first byte stays short."""
    _, rows = run(tmp_path, native_config(lab, tmp_path), "--op", "get", "--procs", 1, "--concurrency", 4,
                  "--objects", 5, "--duration", "2s")
    assert rows["get"]["lat_p50_us"] > 30_000
    assert rows["get.ttfb"]["lat_p50_us"] < 30_000


@ceph
def test_tcp_quickack_removes_the_small_get_stall(lab, tmp_path):
    _, rows = run(tmp_path, native_config(lab, tmp_path, tcp_quickack=True), "--op", "get", "--procs", 1,
                  "--concurrency", 4, "--objects", 5, "--duration", "2s")
    assert rows["get"]["lat_p50_us"] < 30_000
    assert rows["get"]["ops"] > 200


@ceph
def test_size_range_and_payload_sha256(lab, tmp_path):
    config = native_config(lab, tmp_path, payload_sha256=True)
    _, rows = run(tmp_path, config, "--op", "put", "--size", "1k-64k", "--procs", 1, "--concurrency", 4,
                  "--duration", "2s")
    assert rows["put"]["errors"] == 0
    assert 1024 * rows["put"]["ops"] < rows["put"]["bytes"] < 65536 * rows["put"]["ops"]


@ceph
def test_wrong_secret_is_a_one_line_auth_error(lab, tmp_path):
    document = yaml.safe_load(lab.s3_config.read_text())
    document.update(driver="native", secret_key="not-the-secret")
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(document))
    r = bench("s3", "--workload-config", config, "--duration", "1s", "--procs", 1)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("chopsticks: error: S3 bucket ") and ": auth: " in last
    assert "not-the-secret" not in r.stderr


def answer_three(conn) -> None:
    """Answer conn's first three requests 200 (bodies read and dropped), then return."""
    for _ in range(3):
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = conn.recv(65536)
            if not chunk:
                return
            request += chunk
        head, _, body = request.partition(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length:
            body += conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")


def loopback_server(serve) -> socket.socket:
    """A listening loopback socket whose connections are each served by serve(conn) in a thread."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return server


@pytest.fixture
def hanging_up_server():
    """A loopback HTTP server that answers every request 200 and drops each connection, without
    a word, after its third reply; yields its port."""
    def serve(conn: socket.socket) -> None:
        with conn:
            answer_three(conn)

    server = loopback_server(serve)
    yield server.getsockname()[1]
    server.close()


def test_dropped_connections_are_named_and_reconnected(tmp_path, hanging_up_server):
    config = tmp_path / "hangup.yaml"
    config.write_text(yaml.safe_dump({"endpoint": f"http://127.0.0.1:{hanging_up_server}", "access_key": "a",
                                      "secret_key": "s", "bucket": "b", "driver": "native"}))
    r = bench("s3", "--workload-config", config, "--op", "put", "--procs", 1, "--concurrency", 4,
              "--io-total", "2M", "--no-cleanup", "--json", tmp_path / "r.json", "--quiet")
    assert r.returncode == 4, r.stdout + r.stderr       # ran to the end, some operations failed
    doc = load_json(tmp_path / "r.json")
    rows = {row["op"]: row for row in doc["summary"]}
    assert rows["put"]["ops"] + rows["put"]["errors"] == doc["workers"][0]["completed"] == 512
    assert rows["put"]["errors"] > 50 and rows["put"]["ops"] > 2 * rows["put"]["errors"]
    assert set(doc["errors_by_kind"]["put"]) <= {"connection:EOF", "connection:ECONNRESET", "connection:EPIPE"}
    # every failed request closed its connection; the next request on it reconnected
    assert rows["put"]["errors"] - 4 <= rows["reconnect"]["ops"] <= rows["put"]["errors"]


@pytest.fixture
def vanishing_server():
    """A loopback keep-alive HTTP server that answers its first 200 requests (4 KiB bodies to
    GETs), then closes its listening socket and every connection: from then on connects are
    refused, as with RGW stopped. Yields its port."""
    left, lock, conns = [200], threading.Lock(), []

    def vanish() -> None:
        server.shutdown(socket.SHUT_RDWR)       # stops listening at once, unlike close()
        for conn in conns:
            conn.shutdown(socket.SHUT_RDWR)

    def serve(conn: socket.socket) -> None:
        conns.append(conn)
        try:
            answer(conn)
        except OSError:                         # the connection was shut down
            pass

    def answer(conn: socket.socket) -> None:
        request = b""
        while True:
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                request += chunk
            head, _, request = request.partition(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            while len(request) < length:
                request += conn.recv(65536)
            request = request[length:]
            with lock:
                left[0] -= 1
                if left[0] < 0:
                    return vanish()
            body = b"x" * 4096 if head.startswith(b"GET ") else b""
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    server = loopback_server(serve)
    yield server.getsockname()[1]
    server.close()


def test_refused_connects_back_off_and_errors_follow_the_mix(tmp_path, vanishing_server):
    """With the endpoint gone, each connection waits 1 ms, 2 ms, ... up to 1 s between
    operations instead of spinning on refused connects: little CPU, few errors, and each error
    is the op the mix made due (a failed DELETE keeps its object, so GETs still find objects)."""
    config = tmp_path / "vanish.yaml"
    config.write_text(yaml.safe_dump({"endpoint": f"http://127.0.0.1:{vanishing_server}", "access_key": "a",
                                      "secret_key": "s", "bucket": "b", "driver": "native"}))
    r = bench("s3", "--workload-config", config, "--op", "mixed", "--mix", "put=40,get=40,delete=20",
              "--objects", 5, "--procs", 1, "--concurrency", 4, "--duration", "4s", "--no-cleanup",
              "--json", tmp_path / "r.json", "--quiet")
    assert r.returncode == 4, r.stdout + r.stderr
    doc = load_json(tmp_path / "r.json")
    refused = {op: kinds.get("connection:ECONNREFUSED", 0) for op, kinds in doc["errors_by_kind"].items()}
    # 4 connections, each failing at most ~13 times in 4 s (1 + 2 + ... + 512 ms, then 1 s apart)
    assert 20 < sum(refused.values()) <= 4 * 14
    assert refused["put"] >= 4 and refused["get"] >= 4 and refused["delete"] >= 1
    worker = doc["workers"][0]
    assert worker["cpu_user_s"] + worker["cpu_sys_s"] < 1.0      # spinning took all of the 4 s


@ceph
def test_https_mixed_counts_add_up(lab, tmp_path):
    doc, rows = run(tmp_path, native_config(lab, tmp_path, tls=True), "--op", "mixed",
                    "--mix", "put=40,get=40,head=10,delete=5,list=5", "--procs", 1, "--concurrency", 4,
                    "--objects", 3, "--duration", "2s")
    assert doc["settings"]["target"]["config"]["endpoint"].startswith("https://")
    done = sum(rows[op]["ops"] + rows[op]["errors"] for op in PRIMARY_OPS)
    assert done <= doc["workers"][0]["completed"] <= done + doc["drain_ops"] and done > 50
    assert rows["all"]["errors"] == 0 and doc["errors_by_kind"] == {}
    assert rows["get"]["bytes"] == rows["get"]["ops"] * 4096
    assert "tls_handshake" not in rows          # the connections were opened (and shaken) before the start


@ceph
def test_wrong_ca_is_a_one_line_tls_error_naming_the_host(lab, tmp_path):
    r = bench("s3", "--workload-config", native_config(lab, tmp_path, tls=True, ca_bundle=str(other_ca(tmp_path))),
              "--duration", "1s", "--procs", 1)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("chopsticks: error: S3 bucket ")
    assert ": tls: verify: certificate verify failed for 127.0.0.1: " in last


@ceph
def test_verify_false_runs_with_one_warning(lab, tmp_path):
    config = native_config(lab, tmp_path, tls=True, ca_bundle=str(other_ca(tmp_path)), verify=False)
    r = bench("s3", "--workload-config", config, "--op", "put", "--procs", 2, "--concurrency", 2, "--duration", "1s",
              "--json", tmp_path / "r.json", "--quiet")
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("driver_config.verify is false") == 1         # not once more per worker
    rows = {row["op"]: row for row in load_json(tmp_path / "r.json")["summary"]}
    assert rows["put"]["ops"] > 0 and rows["put"]["errors"] == 0


@pytest.fixture
def tls_hanging_up_server(lab):
    """hanging_up_server over TLS with the lab's certificate for 127.0.0.1: each connection is
    dropped without close_notify after its third reply; yields its port."""
    tls_config_of(lab)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(lab.dir / "tls" / "server.crt", lab.dir / "tls" / "server.key")

    def serve(raw: socket.socket) -> None:
        try:
            with context.wrap_socket(raw, server_side=True) as conn:
                answer_three(conn)
        except (OSError, ssl.SSLError):
            pass
        finally:
            raw.close()

    server = loopback_server(serve)
    yield server.getsockname()[1]
    server.close()


@ceph
def test_vanishing_tls_peer_is_counted_and_reconnected_with_a_timed_handshake(lab, tmp_path, tls_hanging_up_server):
    config = tmp_path / "tls-hangup.yaml"
    config.write_text(yaml.safe_dump({"endpoint": f"https://127.0.0.1:{tls_hanging_up_server}", "access_key": "a",
                                      "secret_key": "s", "bucket": "b", "driver": "native",
                                      "driver_config": {"ca_bundle": str(lab.dir / "tls" / "ca.crt")}}))
    r = bench("s3", "--workload-config", config, "--op", "put", "--procs", 1, "--concurrency", 4,
              "--io-total", "1M", "--no-cleanup", "--json", tmp_path / "r.json", "--quiet")
    assert r.returncode == 4, r.stdout + r.stderr
    doc = load_json(tmp_path / "r.json")
    rows = {row["op"]: row for row in doc["summary"]}
    assert rows["put"]["ops"] + rows["put"]["errors"] == doc["workers"][0]["completed"] == 256
    assert rows["put"]["errors"] > 20 and rows["put"]["ops"] > 2 * rows["put"]["errors"]
    assert set(doc["errors_by_kind"]["put"]) <= {"connection:EOF", "connection:ECONNRESET", "connection:EPIPE"}
    assert rows["put"]["errors"] - 4 <= rows["reconnect"]["ops"] <= rows["put"]["errors"]
    assert rows["tls_handshake"]["ops"] == rows["reconnect"]["ops"]
    assert 0 < rows["tls_handshake"]["lat_p50_us"] < rows["put"]["lat_max_us"]


@ceph
def test_objects_larger_than_the_payload_buffer_go_up_and_come_back_whole(lab, tmp_path):
    """20 MiB objects: bodies stream from the 16 MiB payload buffer (repeated), GET bodies are
    read and counted, not kept."""
    _, rows = run(tmp_path, native_config(lab, tmp_path), "--op", "mixed", "--mix", "put=1,get=1", "--size", "20M",
                  "--procs", 1, "--concurrency", 2, "--objects", 1, "--io-total", "160M")
    assert rows["put"]["errors"] == rows["get"]["errors"] == 0
    assert rows["put"]["bytes"] == rows["put"]["ops"] * (20 << 20) > 0
    assert rows["get"]["bytes"] == rows["get"]["ops"] * (20 << 20) > 0


@ceph
def test_multipart_put_sends_one_object_s_parts_on_several_connections(lab, tmp_path):
    doc, rows = run(tmp_path, native_config(lab, tmp_path), "--op", "put", "--size", "64M",
                    "--multipart-threshold", "16M", "--part-size", "8M", "--procs", 1, "--concurrency", 4,
                    "--io-total", "64M")
    assert rows["put"]["ops"] == 1 and rows["put"]["errors"] == 0 and rows["put"]["bytes"] == 64 << 20
    assert rows["put.part"]["ops"] == 8 and rows["put.part"]["errors"] == 0
    assert rows["put.part"]["lat_max_us"] < rows["put"]["lat_max_us"]       # the object: initiate to complete
    assert max(r["inflight"] for r in doc["timeseries"] if r["op"] == "put") >= 2


@ceph
def test_multipart_objects_read_back_whole_and_by_ranges(lab, tmp_path):
    _, rows = run(tmp_path, native_config(lab, tmp_path), "--op", "mixed", "--mix", "put=1,get=1", "--size", "24M",
                  "--multipart-threshold", "16M", "--part-size", "8M", "--procs", 1, "--concurrency", 3,
                  "--objects", 1, "--io-total", "144M")
    assert rows["put"]["errors"] == rows["get"]["errors"] == 0
    assert rows["put.part"]["ops"] == 3 * rows["put"]["ops"]
    assert rows["get"]["bytes"] == rows["get"]["ops"] * (24 << 20) > 0
    _, rows = run(tmp_path, native_config(lab, tmp_path), "--op", "get", "--size", "24M", "--range-size", "5M",
                  "--multipart-threshold", "16M", "--part-size", "8M", "--procs", 1, "--concurrency", 2,
                  "--objects", 1, "--io-total", "40M")
    assert rows["get"]["errors"] == 0 and rows["get"]["bytes"] == rows["get"]["ops"] * (5 << 20) > 0


@ceph
def test_range_size_reads_part_of_each_object(lab, tmp_path):
    _, rows = run(tmp_path, native_config(lab, tmp_path), "--op", "get", "--size", "64k", "--range-size", "4k",
                  "--procs", 1, "--concurrency", 2, "--objects", 2, "--duration", "1s")
    assert rows["get"]["errors"] == 0
    assert rows["get"]["bytes"] == rows["get"]["ops"] * 4096 > 0


@ceph
def test_existing_reads_objects_written_before_and_deletes_nothing(lab, tmp_path):
    from chopsticks.config import load_s3_config
    from chopsticks.drivers.s3 import create_driver

    driver = create_driver({**load_s3_config(lab.s3_config).as_driver_dict(), "driver": "native"})
    prefix = f"existing-{uuid.uuid4().hex[:12]}/"
    keys = [f"{prefix}{n:03d} with space" for n in range(20)]
    for key in keys:
        assert driver.upload(key, b"e" * 3000)
    try:
        doc, rows = run(tmp_path, native_config(lab, tmp_path), "--existing", prefix, "--op", "mixed",
                        "--mix", "get=3,head=1", "--procs", 2, "--concurrency", 2, "--duration", "1s")
        assert rows["get"]["errors"] == rows["head"]["errors"] == 0
        assert rows["get"]["bytes"] == rows["get"]["ops"] * 3000 > 0 and rows["head"]["ops"] > 0
        assert "put" not in rows and "delete" not in rows
        assert sorted(driver.list_objects(prefix)) == keys         # nothing deleted, nothing added
    finally:
        for key in keys:
            driver.delete(key)


@ceph
def test_existing_with_nothing_there_or_writes_is_refused(lab, tmp_path):
    config = native_config(lab, tmp_path)
    r = bench("s3", "--workload-config", config, "--existing", "nothing-here-at-all/", "--op", "get", "--duration", "1s",
              "--procs", 1)
    assert r.returncode == 1 and "no object under 'nothing-here-at-all/'" in r.stderr.strip().splitlines()[-1]
    r = bench("s3", "--workload-config", config, "--existing", "x/", "--op", "put", "--duration", "1s")
    assert r.returncode == 2 and "reads only" in r.stderr


@pytest.mark.parametrize("driver, args, message", [
    ("native", ["--op", "get", "--size", "4k", "--range-size", "8k"], "must not exceed the smallest object"),
    ("native", ["--op", "put", "--range-size", "1k"], "needs GETs in the mix"),
    ("boto3", ["--op", "get", "--range-size", "1k"], "needs --driver native"),
    ("boto3", ["--op", "get", "--existing", "p/"], "needs --driver native"),
    ("boto3", ["--op", "put", "--multipart-threshold", "16M"], "needs --driver native"),
    ("native", ["--op", "put", "--size", "64M", "--multipart-threshold", "16M", "--part-size", "1M"], "at least 5 MiB"),
])
def test_range_and_existing_options_are_checked_before_the_run(tmp_path, driver, args, message):
    config = tmp_path / "s3.yaml"
    config.write_text(yaml.safe_dump({"endpoint": "http://127.0.0.1:9", "access_key": "a", "secret_key": "s",
                                      "bucket": "b", "driver": driver}))
    r = bench("s3", "--workload-config", config, *args, "--duration", "1s")
    assert r.returncode == 2 and message in r.stderr, r.stderr


@ceph
def test_a_multipart_object_from_the_loop_reads_back_with_equal_bytes(lab, tmp_path):
    """A 64 MiB object the loop PUT in 8 MiB parts on 4 connections holds exactly the worker's
    payload (its 16 MiB buffer, repeated), read back whole and by ranges with boto3."""
    import boto3

    from chopsticks._fast.payload import make_payload
    from chopsticks.config import load_s3_config
    from chopsticks.plan import derive_seed

    seed = 5
    doc, rows = run(tmp_path, native_config(lab, tmp_path), "--op", "put", "--size", "64M",
                    "--multipart-threshold", "16M", "--part-size", "8M", "--procs", 1, "--concurrency", 4,
                    "--io-total", "64M", "--seed", seed, "--no-cleanup")
    assert rows["put"]["ops"] == 1 and rows["put.part"]["ops"] == 8
    config = load_s3_config(lab.s3_config)
    s3 = boto3.client("s3", endpoint_url=config.endpoint, aws_access_key_id=config.access_key,
                      aws_secret_access_key=config.secret_key, region_name=config.region)
    listed = s3.list_objects_v2(Bucket=config.bucket, Prefix="chopsticks-bench/")["Contents"]
    key = max((o for o in listed if o["Size"] == 64 << 20), key=lambda o: o["LastModified"])["Key"]
    try:
        buffer = make_payload(16 << 20, "random", seed=derive_seed(seed, 0))   # worker 0's payload (Plan.worker_seed)
        expected = buffer * 4
        assert s3.get_object(Bucket=config.bucket, Key=key)["Body"].read() == expected
        for first, last in ((0, 4095), ((8 << 20) - 10, (8 << 20) + 10), ((16 << 20) + 5, (40 << 20) + 7),
                            ((64 << 20) - 100, (64 << 20) - 1)):
            part = s3.get_object(Bucket=config.bucket, Key=key, Range=f"bytes={first}-{last}")["Body"].read()
            assert part == expected[first:last + 1], (first, last)
    finally:
        s3.delete_object(Bucket=config.bucket, Key=key)
