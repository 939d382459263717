"""The lab's HTTPS side for tests: its TLS workload config, and a CA of nobody's."""
import os
import subprocess
from pathlib import Path

import pytest


def tls_config_of(lab) -> Path:
    """The lab's s3_tls_config.yaml; a lab made before labs served HTTPS has none (restart it)."""
    if lab.s3_tls_config is None:
        reason = f"the lab in {lab.dir} serves no HTTPS (made before labs did); restart it"
        if os.environ.get("CHOPSTICKS_REQUIRE_CEPH") == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)  # only for a lab of an older chopsticks, without CHOPSTICKS_REQUIRE_CEPH=1
    return lab.s3_tls_config


def other_ca(directory: Path) -> Path:
    """A self-signed CA that signed nothing the lab serves."""
    cert = directory / "other-ca.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(directory / "other-ca.key"), "-out", str(cert), "-days", "2",
                    "-subj", "/CN=not the lab CA"], check=True, capture_output=True)
    return cert
