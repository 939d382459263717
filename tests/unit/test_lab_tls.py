"""The lab's HTTPS side without Ceph: what lab.json keeps of it (older lab.json files still load)
and what `lab env` exports."""
import dataclasses
import json
from pathlib import Path

from chopsticks.lab import LabInfo, cluster

from test_lab_state import lab_info


def test_tls_endpoint_and_config_survive_a_save_and_load(tmp_path):
    info = dataclasses.replace(lab_info(tmp_path, {"mon.a": 11}), s3_tls_endpoint="https://127.0.0.1:4",
                               s3_tls_config=tmp_path / "s3_tls_config.yaml")
    info.save()
    loaded = LabInfo.load(tmp_path)
    assert loaded == info and isinstance(loaded.s3_tls_config, Path)
    assert cluster.env_vars(loaded)["S3_TLS_CONFIG_PATH"] == str(tmp_path / "s3_tls_config.yaml")


def test_a_lab_json_from_before_https_still_loads_without_it(tmp_path):
    lab_info(tmp_path, {"mon.a": 11}).save()
    document = json.loads((tmp_path / "lab.json").read_text())
    for key in ("s3_tls_endpoint", "s3_tls_config"):
        del document[key]
    (tmp_path / "lab.json").write_text(json.dumps(document))
    loaded = LabInfo.load(tmp_path)
    assert loaded is not None and loaded.s3_tls_config is None and loaded.s3_tls_endpoint == ""
    assert "S3_TLS_CONFIG_PATH" not in cluster.env_vars(loaded)
