"""The files a lab is made of, rendered as text: ceph.conf, cephx keyrings, the S3 workload configs.

Pure functions, so that what the daemons are told can be read and tested without starting them.
"""
import base64
import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path


MON_ID = "a"
MGR_ID = "x"
OSD_ID = 0
RGW_NAME = "client.rgw.lab"
MEMSTORE_BYTES = 4 * 1024**3
TLS_DIR = "tls"                       # the lab's CA and RGW's certificate for 127.0.0.1
CA_CERT, SERVER_CERT, SERVER_KEY = "ca.crt", "server.crt", "server.key"

# Entity -> caps; imported into the mon's auth database at mkfs, so no `ceph auth` calls are needed.
ENTITY_CAPS: dict[str, dict[str, str]] = {
    "mon.": {"mon": "allow *"},
    "client.admin": {"mon": "allow *", "osd": "allow *", "mds": "allow *", "mgr": "allow *"},
    f"mgr.{MGR_ID}": {"mon": "allow profile mgr", "osd": "allow *", "mds": "allow *"},
    f"osd.{OSD_ID}": {"mon": "allow profile osd", "osd": "allow *", "mgr": "allow profile osd"},
    RGW_NAME: {"mon": "allow rw", "osd": "allow rwx", "mgr": "allow rw"},
}


@dataclass(frozen=True)
class LabPorts:
    """The loopback TCP ports a lab listens on (mgr and OSD pick their own from Ceph's range)."""

    mon_v2: int
    mon_v1: int
    rgw: int
    rgw_tls: int = 0                  # RGW's HTTPS endpoint (0: none)


def mon_addrs(ports: LabPorts) -> str:
    """The mon's address vector as ceph.conf and monmaptool spell it."""
    return f"[v2:127.0.0.1:{ports.mon_v2},v1:127.0.0.1:{ports.mon_v1}]"


def cephx_key() -> str:
    """A new random cephx secret, encoded as ceph-authtool --gen-key encodes it."""
    now = time.time()
    header = struct.pack("<HIIH", 1, int(now), int((now % 1) * 1e9), 16)
    return base64.b64encode(header + os.urandom(16)).decode()


def keyring(keys: dict[str, str]) -> str:
    """A keyring file holding each entity's key and caps."""
    sections = []
    for entity, key in keys.items():
        lines = [f"[{entity}]", f"\tkey = {key}"]
        lines += [f'\tcaps {service} = "{cap}"' for service, cap in ENTITY_CAPS[entity].items()]
        sections.append("\n".join(lines) + "\n")
    return "".join(sections)


def ceph_conf(lab_dir: Path, fsid: str, ports: LabPorts) -> str:
    """ceph.conf for a single-node lab whose every path (keyrings, data, logs, sockets) is in lab_dir."""
    daemon_files = f"log file = {lab_dir}/log/$name.log\npid file = {lab_dir}/run/$name.pid"
    return f"""\
[global]
fsid = {fsid}
mon host = {mon_addrs(ports)}
public network = 127.0.0.0/8
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = {lab_dir}/$name.keyring
run dir = {lab_dir}/run
crash dir = {lab_dir}/crash
# one OSD: pools of size 1, and few PGs because RGW alone creates ~7 pools (mon_max_pg_per_osd)
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
# a taken port fails the daemon at once (`up` retries on another port), not after 3 tries 5 s apart
ms bind retry count = 1

[mon]
{daemon_files}
mon data = {lab_dir}/mon.$id
mon cluster log file = {lab_dir}/log/cluster.$channel.log
mgr initial modules = iostat
auth allow insecure global id reclaim = false
# each pool RGW creates is a few osdmap changes; proposing them every 1 s (the default) makes `up` slow
paxos propose interval = 0.1
# a throw-away lab on a fairly full disk is still healthy
mon data avail warn = 5

[mgr]
{daemon_files}
mgr data = {lab_dir}/mgr.$id
# daemons report PG states every period; `up` waits for them (the default 5 s), so do monitoring tools
mgr stats period = 1

[osd]
{daemon_files}
osd data = {lab_dir}/osd.$id
osd objectstore = memstore
memstore device bytes = {MEMSTORE_BYTES}

[{RGW_NAME}]
{daemon_files}
rgw data = {lab_dir}/rgw
# a client's default socket name adds its pid and an instance id: too long for a deep run directory
admin socket = {lab_dir}/run/$name.asok
rgw frontends = {rgw_frontends(lab_dir, ports)}
# deleted and overwritten objects' data waits for RGW's garbage collector (2 h by default): in a
# 4 GiB memstore OSD, an afternoon of S3 runs would fill it; collect within half a minute instead
rgw gc obj min wait = 15
rgw gc processor period = 15
"""


def rgw_frontends(lab_dir: Path, ports: LabPorts) -> str:
    """RGW's beast frontend: plain HTTP, and HTTPS with the lab's certificate when it has a port."""
    beast = f"beast endpoint=127.0.0.1:{ports.rgw}"
    if ports.rgw_tls:
        tls = lab_dir / TLS_DIR
        beast += (f" ssl_endpoint=127.0.0.1:{ports.rgw_tls} ssl_certificate={tls / SERVER_CERT}"
                  f" ssl_private_key={tls / SERVER_KEY}")
    return beast


def s3_config(endpoint: str, access_key: str, secret_key: str, bucket: str, s5cmd_path: str,
              ca_bundle: Path | None = None) -> str:
    """The S3 workload config (the original chopsticks s3_config.yaml format) pointing at the lab
    (with ca_bundle: its HTTPS endpoint, verified against the lab's CA)."""
    config = {
        "endpoint": endpoint,
        "access_key": access_key,
        "secret_key": secret_key,
        "bucket": bucket,
        "region": "us-east-1",
        "driver": "s5cmd",
        "driver_config": {"s5cmd_path": s5cmd_path, "timeout": 30},
    }
    if ca_bundle:
        config["driver_config"]["ca_bundle"] = str(ca_bundle)
    import yaml                    # only `lab up` writes YAML: every command imports this module

    return yaml.safe_dump(config, sort_keys=False)


def tls_extensions() -> str:
    """openssl x509 -extfile for RGW's certificate: a server certificate for 127.0.0.1 (and localhost)."""
    return ("basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n"
            "extendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1, DNS:localhost\n")
