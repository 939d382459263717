"""Example: a complete scenario to copy and adapt (the README's "Scenarios" section shows it).

Each user uploads objects under its own prefix, reads them back with a size check, lists them,
and deletes what it wrote when the run ends.

    chopsticks run -f scenarios/example_scenario.py --headless --users 4 --spawn-rate 2 --duration 30s
"""
from chopsticks.workloads import S3Workload, between, get_scenario_value, task

SIZE = get_scenario_value("example_scenario", "object_size_kb") * 1024
PREFIX = get_scenario_value("example_scenario", "prefix")


class ExampleScenario(S3Workload):
    wait_time = between(0.5, 1.5)           # seconds of pause after each task

    def on_start(self):
        self.keys = []

    @task(3)
    def upload(self):
        key = self.generate_key(f"{PREFIX}/user-{self.user_id}")
        if self.client.upload(key, self.generate_data(SIZE)):
            self.keys.append(key)

    @task(2)
    def download(self):
        if self.keys:
            data = self.client.download(self.random.choice(self.keys))
            if data is not None and len(data) != SIZE:
                raise ValueError(f"got {len(data)} bytes, expected {SIZE}")

    @task(1)
    def list(self):
        self.client.list_objects(prefix=f"{PREFIX}/user-{self.user_id}/", max_keys=100)

    def on_stop(self):
        for key in self.keys:
            self.client.delete(key)
