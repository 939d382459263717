"""What `bench s3` and `run` print before a run (items 15 and 16 of issue #10): an S3 set-up
failure is one line (no driver log line repeating it, no "further errors" of a run that never
started), and a driver_config typo one warning, not one per worker."""
import pytest

from helpers.engine_cli import chopsticks

SCENARIO = """
from chopsticks.workloads import S3Workload, task

class One(S3Workload):
    @task
    def put(self):
        self.client.upload(self.generate_key("one"), self.generate_data(1))
"""


def write_config(tmp_path, driver, driver_config="{}"):
    path = tmp_path / "s3.yaml"
    path.write_text(f"endpoint: http://127.0.0.1:1\naccess_key: a\nsecret_key: s\nbucket: b\ndriver: {driver}\n"
                    f"driver_config: {driver_config}\n")
    return path


@pytest.mark.parametrize("driver", ["boto3", "s5cmd"])
@pytest.mark.parametrize("command", ["bench", "run"])
def test_an_unreachable_endpoint_is_said_once(tmp_path, driver, command):
    config = write_config(tmp_path, driver)
    if command == "bench":
        r = chopsticks("bench", "s3", "--workload-config", config, "--procs", 2, "-t", "1s")
    else:
        scenario = tmp_path / "one.py"
        scenario.write_text(SCENARIO)
        r = chopsticks("run", "-f", scenario, "--workload-config", config, "-u", 2, "-t", "1s")
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("chopsticks: error: S3 bucket 'b' at http://127.0.0.1:1 is not usable: connection: ")
    assert "further" not in r.stderr


def test_a_driver_config_typo_is_one_warning(tmp_path):
    config = write_config(tmp_path, "mock", "{timeoutt: 5, latency_ms: 0}")
    r = chopsticks("bench", "s3", "--workload-config", config, "--procs", 2, "-t", "1s", "--quiet")
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [f"{config}: driver_config key 'timeoutt' ignored: not an option of the 'mock' "
                                     "driver (its options: latency_ms, failure_rate, seed)"]
