"""Bring a throw-away single-node Ceph cluster up on loopback without systemd, find it, take it down.

Every daemon is started with `-c <dir>/ceph.conf`, daemonizes itself and writes `<dir>/run/<name>.pid`;
those pid files (checked against each process's argv) are what `down` stops, and nothing else.
"""
import contextlib
import fcntl
import json
import os
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NoReturn

from chopsticks.errors import ChopsticksError
from chopsticks.lab import render
from chopsticks.lab.ports import free_ports
from chopsticks.lab.processes import is_lab_process, read_pid_files, stop
from chopsticks.lab.render import MGR_ID, MON_ID, OSD_ID, RGW_NAME, LabPorts
from chopsticks.lab.state import LabInfo

LAB_DIR_ENV = "CHOPSTICKS_LAB_DIR"
MARKER = ".chopsticks-lab"  # only a directory carrying this file is ever removed
APT_INSTALL = ["apt-get", "install", "-y", "ceph-mon", "ceph-mgr", "ceph-osd", "radosgw", "ceph-common", "openssl"]
REQUIRED_TOOLS = ("ceph-mon", "ceph-mgr", "ceph-osd", "radosgw", "ceph", "monmaptool", "radosgw-admin", "rbd", "rados",
                  "openssl")
TLS_DAYS = "3650"
CLIENT_ID = "admin"
POOL = "rbd"
POOL_PGS = 8
IMAGE = "test"
IMAGE_SIZE = 1 << 30
S3_USER = "chopsticks"
BUCKET = "chopsticks"
RGW_CONTROL_POOL = "default.rgw.control"
UP_TIMEOUT_S = 120
TOOL_TIMEOUT_S = 60
CONNECT_TIMEOUT_S = 10
PID_FILE_TIMEOUT_S = 15
PORT_ATTEMPTS = 3
APT_TIMEOUT_S = 1200
DAEMONS = (f"mon.{MON_ID}", f"mgr.{MGR_ID}", f"osd.{OSD_ID}", RGW_NAME)  # in start order


def default_dir() -> Path:
    """The lab's default run directory: `$XDG_STATE_HOME/chopsticks/lab` or `~/.local/state/chopsticks/lab`."""
    state_home = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state_home) / "chopsticks" / "lab"


def resolve_dir(dir: Path | str | None) -> Path:
    """The run directory to act on: `dir`, else $CHOPSTICKS_LAB_DIR, else default_dir(); absolute."""
    chosen = dir or os.environ.get(LAB_DIR_ENV) or default_dir()
    return Path(chosen).expanduser().resolve()


def find_running(dir: Path | str | None = None) -> LabInfo | None:
    """The lab running in the run directory, or None if there is none or any of its daemons died."""
    info = LabInfo.load(resolve_dir(dir))
    if info and all(is_lab_process(pid, info.conf) for pid in info.pids.values()):
        return info
    return None


def up(
    dir: Path | str | None = None, install: bool = False, log: Callable[[str], None] = print
) -> tuple[LabInfo, bool]:
    """Start a lab and wait for HEALTH_OK; return it and True, or the one already running and False."""
    lab_dir = resolve_dir(dir)
    _check_usable_dir(lab_dir)
    with _exclusive(lab_dir):
        running = find_running(lab_dir)
        if running:
            log(f"a lab is already running in {lab_dir}")
            return running, False
        _ensure_ceph_installed(install, log)
        _remove_stale(lab_dir, log)
        build = _LabBuild(lab_dir, log)
        try:
            return build.run(), True
        except BaseException:
            _stop_daemons(lab_dir)
            raise


def _check_usable_dir(lab_dir: Path) -> None:
    """One-line error unless lab_dir is (or can be made) a directory of our own."""
    if lab_dir.exists() and not lab_dir.is_dir():
        raise ChopsticksError(f"--dir {lab_dir}: exists and is not a directory")
    try:
        lab_dir.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ChopsticksError(f"--dir {lab_dir}: cannot create {lab_dir.parent}: {e.strerror or e}") from None
    if not os.access(lab_dir.parent, os.W_OK | os.X_OK):
        raise ChopsticksError(f"--dir {lab_dir}: {lab_dir.parent} is not writable")


@contextlib.contextmanager
def _exclusive(lab_dir: Path):
    """Hold a lock beside the run directory (which `up` may wipe) while a lab is built there."""
    lock_path = lab_dir.parent / f".{lab_dir.name}.lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as e:
        raise ChopsticksError(f"--dir {lab_dir}: cannot create {lock_path}: {e.strerror or e}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ChopsticksError(f"another `lab up` is running in {lab_dir}") from None
        yield
    finally:
        os.close(fd)


def down(dir: Path | str | None = None) -> bool:
    """Stop the lab's daemons and remove its run directory; False if no daemon of it was running."""
    lab_dir = resolve_dir(dir)
    if not (lab_dir / MARKER).exists():
        return False
    was_running = _stop_daemons(lab_dir)
    shutil.rmtree(lab_dir)
    return was_running


def status(dir: Path | str | None = None) -> dict:
    """Health, each daemon's PID and liveness, and the endpoints of the lab in the run directory."""
    lab_dir = resolve_dir(dir)
    info = LabInfo.load(lab_dir)
    if info is None:
        raise ChopsticksError(f"no lab in {lab_dir} (start one: chopsticks lab up --dir {lab_dir})")
    alive = {name: is_lab_process(pid, info.conf) for name, pid in info.pids.items()}
    health = _health(info.conf) if alive.get(f"mon.{MON_ID}") else "unreachable (mon not running)"
    return {
        "dir": str(lab_dir),
        "running": all(alive.values()),
        "health": health,
        "daemons": {name: {"pid": pid, "alive": alive[name]} for name, pid in info.pids.items()},
        "mon_addr": info.mon_addr,
        "s3_endpoint": info.s3_endpoint,
        "s3_tls_endpoint": info.s3_tls_endpoint,
        "conf": str(info.conf),
        "keyring": str(info.keyring),
    }


def env_vars(info: LabInfo) -> dict[str, str]:
    """Environment variables that point Ceph tools, AWS tools and chopsticks at the lab."""
    return {
        "CHOPSTICKS_LAB_DIR": str(info.dir),
        "CEPH_CONF": str(info.conf),
        "CEPH_KEYRING": str(info.keyring),
        "S3_CONFIG_PATH": str(info.s3_config),
        **({"S3_TLS_CONFIG_PATH": str(info.s3_tls_config)} if info.s3_tls_config else {}),
        "AWS_ENDPOINT_URL": info.s3_endpoint,
        "AWS_ACCESS_KEY_ID": info.access_key,
        "AWS_SECRET_ACCESS_KEY": info.secret_key,
    }


class _PortTaken(Exception):
    """A daemon could not bind its port: something took it after it was picked."""


class _LabBuild:
    """One attempt at creating a lab in an empty run directory, within UP_TIMEOUT_S."""

    def __init__(self, lab_dir: Path, log: Callable[[str], None]):
        self.dir = lab_dir
        self.conf = lab_dir / "ceph.conf"
        self.log = log
        self.fsid = str(uuid.uuid4())
        self.ports: LabPorts | None = None
        self.deadline = time.monotonic() + UP_TIMEOUT_S

    def run(self) -> LabInfo:
        """Create files, start mon → mgr → OSD, then the RBD image and the S3 side in parallel."""
        self._prepare()
        self._retrying_taken_ports(f"mon.{MON_ID}", self._start_mon)
        self._launch(f"mgr.{MGR_ID}", ["ceph-mgr", "-c", str(self.conf), "-i", MGR_ID])
        self._start_osd()
        with ThreadPoolExecutor(max_workers=2) as pool:
            image = pool.submit(self._create_rbd_image)
            s3 = pool.submit(self._start_s3)
            image.result()
            access_key, secret_key = s3.result()
        self._wait_healthy()
        return self._record(access_key, secret_key)

    def _prepare(self) -> None:
        self.log(f"creating a lab in {self.dir}")
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / MARKER).touch()
        for sub in ("log", "run", f"mgr.{MGR_ID}", f"osd.{OSD_ID}", "rgw", render.TLS_DIR):
            (self.dir / sub).mkdir()
        self._make_tls_certificates()
        keys = {entity: render.cephx_key() for entity in render.ENTITY_CAPS}
        # the mon's keyring seeds its auth database at mkfs, so it holds every entity with its caps
        self._write(f"mon.{MON_ID}.keyring", render.keyring(keys), mode=0o600)
        for entity in keys.keys() - {"mon."}:
            self._write(f"{entity}.keyring", render.keyring({entity: keys[entity]}), mode=0o600)

    def _make_tls_certificates(self) -> None:
        """A throw-away CA and, signed by it, RGW's certificate for 127.0.0.1 (EC keys: milliseconds)."""
        tls = self.dir / render.TLS_DIR
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        self._tool(["openssl", "req", "-x509", *ec, "-keyout", str(tls / "ca.key"), "-out", str(tls / render.CA_CERT),
                    "-days", TLS_DAYS, "-subj", "/CN=chopsticks lab CA",
                    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        self._tool(["openssl", "req", *ec, "-keyout", str(tls / render.SERVER_KEY), "-out", str(tls / "server.csr"),
                    "-subj", "/CN=127.0.0.1"])
        (tls / "server.ext").write_text(render.tls_extensions())
        self._tool(["openssl", "x509", "-req", "-in", str(tls / "server.csr"), "-CA", str(tls / render.CA_CERT),
                    "-CAkey", str(tls / "ca.key"), "-set_serial", "1", "-days", TLS_DAYS,
                    "-extfile", str(tls / "server.ext"), "-out", str(tls / render.SERVER_CERT)])

    def _start_mon(self) -> None:
        """Pick ports, make the mon's store for them and start it (a new mon: its address is in the store)."""
        self.ports = LabPorts(*free_ports(3))
        self._write_conf()
        mon_data = self.dir / f"mon.{MON_ID}"
        shutil.rmtree(mon_data, ignore_errors=True)
        monmap = self.dir / "monmap"
        self._tool(["monmaptool", "--create", "--clobber", "--fsid", self.fsid,
                    "--addv", MON_ID, render.mon_addrs(self.ports), str(monmap)])
        self._tool(["ceph-mon", "-c", str(self.conf), "--mkfs", "-i", MON_ID,
                    "--monmap", str(monmap), "--keyring", str(self.dir / f"mon.{MON_ID}.keyring")])
        self._launch(f"mon.{MON_ID}", ["ceph-mon", "-c", str(self.conf), "-i", MON_ID])

    def _start_osd(self) -> None:
        osd_id = self._ceph("osd", "create").strip()
        if osd_id != str(OSD_ID):
            raise ChopsticksError(f"`ceph osd create` made osd.{osd_id}, expected osd.{OSD_ID}")
        self._tool(["ceph-osd", "-c", str(self.conf), "-i", osd_id, "--mkfs", "--no-mon-config"])
        self._launch(f"osd.{OSD_ID}", ["ceph-osd", "-c", str(self.conf), "-i", osd_id])

    def _create_rbd_image(self) -> None:
        self._ceph("osd", "pool", "create", POOL, str(POOL_PGS), str(POOL_PGS))
        self._tool(["rbd", "-c", str(self.conf), "pool", "init", POOL])
        # layering only: with exclusive-lock, workers writing one image from several processes bounce the lock
        self._tool(["rbd", "-c", str(self.conf), "create", "--image-feature", "layering",
                    "--size", f"{IMAGE_SIZE >> 20}M", f"{POOL}/{IMAGE}"])
        self.log(f"created rbd image {POOL}/{IMAGE} ({IMAGE_SIZE >> 20} MiB)")

    def _start_s3(self) -> tuple[str, str]:
        """Start RGW, create the S3 user and bucket; return the user's access and secret keys."""
        self._retrying_taken_ports(RGW_NAME, self._start_rgw)
        access_key, secret_key = secrets.token_hex(10).upper(), secrets.token_hex(20)
        self._tool(["radosgw-admin", "-c", str(self.conf), "user", "create", "--uid", S3_USER,
                    "--display-name", "chopsticks lab", "--access-key", access_key, "--secret-key", secret_key])
        _create_bucket(self._s3_endpoint(), access_key, secret_key, BUCKET)
        self.log(f"created S3 user {S3_USER} and bucket {BUCKET}")
        return access_key, secret_key

    def _start_rgw(self) -> None:
        self.ports = LabPorts(self.ports.mon_v2, self.ports.mon_v1, *free_ports(2))
        self._write_conf()
        pid = self._launch(RGW_NAME, ["radosgw", "-c", str(self.conf), "-n", RGW_NAME])
        try:
            self._wait_rgw_answers(pid)
        except _PortTaken:
            self._blocklist_dead_rgw()
            raise

    def _blocklist_dead_rgw(self) -> None:
        """Blocklist the client a dead radosgw was, dropping the watches it left on its control objects.

        Otherwise every RGW metadata change (creating the bucket) waits for those watches to time out
        (osd_client_watch_timeout, 30 s). radosgw binds its port only after it set them up.
        """
        watchers = self._tool(["rados", "-c", str(self.conf), "-p", RGW_CONTROL_POOL, "listwatchers", "notify.0"])
        # e.g. "watcher=127.0.0.1:0/2952806318 client.4118 cookie=94310930620416"
        for line in watchers.splitlines():
            self._ceph("osd", "blocklist", "add", line.split()[0].removeprefix("watcher="))

    def _wait_rgw_answers(self, pid: int) -> None:
        """Poll RGW's endpoint until it lists buckets (anonymously), failing early if it died."""
        import urllib.request      # only `lab up` needs it: every command imports this module

        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while True:
            self._time_left(f"waiting for radosgw to answer on {self._s3_endpoint()}")
            try:
                with opener.open(self._s3_endpoint(), timeout=2) as response:
                    if b"ListAllMyBucketsResult" in response.read():
                        return
            except OSError:
                pass
            if not is_lab_process(pid, self.conf):
                self._daemon_failed(RGW_NAME)
            time.sleep(0.2)

    def _wait_healthy(self) -> None:
        """Wait until the cluster is HEALTH_OK with an active mgr and every PG active+clean.

        HEALTH_OK alone is not enough: before the mgr is active nothing reports PG states.
        """
        waiting_for = "no answer"
        while True:
            self._time_left(f"waiting for HEALTH_OK (last: {waiting_for})")
            waiting_for = not_ready_reason(json.loads(self._ceph("status", "--format", "json")))
            if waiting_for is None:
                return
            time.sleep(0.25)

    def _record(self, access_key: str, secret_key: str) -> LabInfo:
        """Write the S3 workload config and lab.json: the lab exists from here on."""
        s3_config, s3_tls_config = self.dir / "s3_config.yaml", self.dir / "s3_tls_config.yaml"
        self._write(s3_config.name, render.s3_config(self._s3_endpoint(), access_key, secret_key, BUCKET,
                                                     "s5cmd"), mode=0o600)
        self._write(s3_tls_config.name, render.s3_config(self._s3_tls_endpoint(), access_key, secret_key, BUCKET,
                                                         "s5cmd", self.dir / render.TLS_DIR / render.CA_CERT), mode=0o600)
        info = LabInfo(
            dir=self.dir, conf=self.conf, keyring=self.dir / f"client.{CLIENT_ID}.keyring", client_id=CLIENT_ID,
            fsid=self.fsid, mon_addr=render.mon_addrs(self.ports), pool=POOL, image=IMAGE, image_size=IMAGE_SIZE,
            s3_endpoint=self._s3_endpoint(), access_key=access_key, secret_key=secret_key, bucket=BUCKET,
            s3_config=s3_config, pids=_in_start_order(read_pid_files(self.dir / "run")),
            s3_tls_endpoint=self._s3_tls_endpoint(), s3_tls_config=s3_tls_config,
        )
        info.save()
        return info

    def _retrying_taken_ports(self, name: str, start: Callable[[], None]) -> None:
        """Run `start` (which picks its own ports) again when its port was taken before the daemon bound it."""
        for _ in range(PORT_ATTEMPTS):
            try:
                return start()
            except _PortTaken:
                self.log(f"{name}: its port was taken meanwhile; retrying on another")
        raise ChopsticksError(f"{name} found its port taken {PORT_ATTEMPTS} times in a row; see {self.dir / 'log'}")

    def _launch(self, name: str, argv: list[str]) -> int:
        """Start a self-daemonizing Ceph daemon; return its PID once it has written its pid file."""
        log_dir = self.dir / "log"
        (log_dir / f"{name}.log").unlink(missing_ok=True)  # a retry must not see the last attempt's errors
        # to a file, not a pipe: the daemon inherits it, and reading a pipe would wait for the daemon's end
        with open(log_dir / f"{name}.out", "wb") as out:
            proc = self._run(argv, f"starting {name}", stdout=out, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            self._daemon_failed(name)
        pid_file = self.dir / "run" / f"{name}.pid"
        give_up = time.monotonic() + PID_FILE_TIMEOUT_S
        while time.monotonic() < give_up:
            pid = read_pid_files(pid_file.parent).get(name)
            if pid and is_lab_process(pid, self.conf):
                self.log(f"started {name} (pid {pid})")
                return pid
            time.sleep(0.05)
        self._daemon_failed(name)

    def _daemon_failed(self, name: str) -> NoReturn:
        """Raise _PortTaken if the daemon's logs say so, else a ChopsticksError quoting its last log line."""
        logs = [self.dir / "log" / f"{name}.out", self.dir / "log" / f"{name}.log"]
        text = "\n".join(path.read_text(errors="replace") for path in logs if path.exists())
        if "Address already in use" in text:
            raise _PortTaken(name)
        last = text.strip().splitlines()[-1] if text.strip() else "no output"
        raise ChopsticksError(f"{name} did not start: {last} (logs: {logs[1]})")

    def _ceph(self, *args: str) -> str:
        return self._tool(["ceph", "-c", str(self.conf), "--connect-timeout", str(CONNECT_TIMEOUT_S), *args])

    def _tool(self, argv: list[str]) -> str:
        """Run a Ceph tool to completion; its stdout, or a ChopsticksError quoting its stderr."""
        proc = self._run(argv, f"running {argv[0]}", capture_output=True, text=True)
        if proc.returncode != 0:
            detail = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
            raise ChopsticksError(f"`{' '.join(argv[:4])} ...` failed (exit {proc.returncode}): {detail}")
        return proc.stdout

    def _run(self, argv: list[str], doing: str, **kwargs) -> subprocess.CompletedProcess:
        """_run within TOOL_TIMEOUT_S and the deadline; a timeout at the deadline is reported as such."""
        try:
            return _run(argv, self._time_left(doing, TOOL_TIMEOUT_S), **kwargs)
        except ChopsticksError:
            self._time_left(doing)
            raise

    def _time_left(self, doing: str, cap_s: float = UP_TIMEOUT_S) -> float:
        """Seconds left before the deadline (at most cap_s); raise ChopsticksError once it has passed."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ChopsticksError(f"lab not up within {UP_TIMEOUT_S} s, stopped while {doing};"
                                  f" logs in {self.dir / 'log'}")
        return min(left, cap_s)

    def _write_conf(self) -> None:
        self._write(self.conf.name, render.ceph_conf(self.dir, self.fsid, self.ports))

    def _write(self, name: str, text: str, mode: int = 0o644) -> None:
        """Write a file in the run directory atomically: daemons and tools read ceph.conf concurrently."""
        tmp = self.dir / f".{name}.tmp"
        tmp.write_text(text)
        tmp.chmod(mode)
        os.replace(tmp, self.dir / name)

    def _s3_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports.rgw}"

    def _s3_tls_endpoint(self) -> str:
        return f"https://127.0.0.1:{self.ports.rgw_tls}"


def not_ready_reason(cluster_status: dict) -> str | None:
    """What `ceph status --format json` says the lab still lacks before benchmarks can use it, or None."""
    health = cluster_status["health"]["status"]
    if health != "HEALTH_OK":
        return f"{health}: {', '.join(cluster_status['health'].get('checks', {}))}"
    if not cluster_status["mgrmap"].get("available"):
        return "no active mgr"
    pgs = cluster_status["pgmap"]
    clean = sum(s["count"] for s in pgs.get("pgs_by_state", []) if s["state_name"] == "active+clean")
    if clean < pgs.get("num_pgs", 0) or clean == 0:
        return f"{clean} of {pgs.get('num_pgs', 0)} PGs active+clean"
    return None


def _run(argv: list[str], timeout_s: float, **kwargs) -> subprocess.CompletedProcess:
    """subprocess.run with a timeout that becomes a ChopsticksError, and without the caller's CEPH_* env."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("CEPH_")}
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, env=env, timeout=timeout_s, **kwargs)
    except subprocess.TimeoutExpired:
        raise ChopsticksError(f"`{' '.join(argv[:4])} ...` did not finish within {timeout_s:.0f} s") from None


def _health(conf: Path) -> str:
    proc = _run(["ceph", "-c", str(conf), "--connect-timeout", "5", "health"], 15, capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else f"unreachable ({proc.stderr.strip()[-200:]})"


def _create_bucket(endpoint: str, access_key: str, secret_key: str, bucket: str) -> None:
    """Create the bucket, then write and delete one object in it.

    The first object written makes RGW create its data pool; better here than as a benchmark's
    first, seconds-long PUT.
    """
    import boto3
    import botocore.config
    import botocore.exceptions

    s3 = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=access_key, aws_secret_access_key=secret_key,
        region_name="us-east-1",
        config=botocore.config.Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3}),
    )
    try:
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="chopsticks-lab-probe", Body=b"probe")
        s3.delete_object(Bucket=bucket, Key="chopsticks-lab-probe")
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        raise ChopsticksError(f"S3 bucket {bucket} on {endpoint} not usable: {e}") from None


def _in_start_order(pids: dict[str, int]) -> dict[str, int]:
    def position(item: tuple[str, int]) -> int:
        return DAEMONS.index(item[0]) if item[0] in DAEMONS else len(DAEMONS)

    return dict(sorted(pids.items(), key=position))


def _stop_daemons(lab_dir: Path) -> bool:
    """Stop the daemons whose pid files are in the run directory; True if any was running."""
    conf = lab_dir / "ceph.conf"
    # in reverse start order: a daemon stopped after its mon waits seconds for it before exiting
    pids = list(reversed(_in_start_order(read_pid_files(lab_dir / "run")).values()))
    was_running = any(is_lab_process(pid, conf) for pid in pids)
    stop(pids, conf)
    return was_running


def _remove_stale(lab_dir: Path, log: Callable[[str], None]) -> None:
    """Clear the run directory for a new lab: remove a dead (or half-dead) lab; refuse a foreign directory."""
    if not lab_dir.exists():
        return
    if not (lab_dir / MARKER).exists():
        if any(lab_dir.iterdir()):
            raise ChopsticksError(f"{lab_dir} is not empty and holds no chopsticks lab; choose another --dir")
        return
    log(f"replacing the stale lab in {lab_dir}")
    _stop_daemons(lab_dir)
    shutil.rmtree(lab_dir)


def _ensure_ceph_installed(install: bool, log: Callable[[str], None]) -> None:
    """Check the Ceph daemons and tools are on PATH; with install=True, apt-get them (as root)."""
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if not missing:
        return
    command = " ".join(APT_INSTALL)
    if not install:
        raise ChopsticksError(f"Ceph is not installed (no {', '.join(missing)}); install it: {command}"
                              " (or run `chopsticks lab up --install` as root)")
    if os.geteuid() != 0:
        raise ChopsticksError(f"--install needs root; as root run: {command}")
    log(f"installing Ceph: {command}")
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update"], APT_INSTALL):
        try:
            proc = subprocess.run(argv, env=apt_env, stdin=subprocess.DEVNULL, timeout=APT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise ChopsticksError(f"`{' '.join(argv)}` did not finish within {APT_TIMEOUT_S} s") from None
        if proc.returncode != 0:
            raise ChopsticksError(f"`{' '.join(argv)}` failed (exit {proc.returncode})")
