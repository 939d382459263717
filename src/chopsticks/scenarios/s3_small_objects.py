"""S3 small objects: many small PUTs and GETs with a few HEADs — the per-request cost of the
gateway (metadata, index updates) rather than its bandwidth.

Tasks: upload ×5, download ×4 (with a size check), head ×1; each user keeps at most
`max_keys_in_memory` keys (older ones are deleted) and deletes the rest in on_stop.

Parameters (`s3_small_objects:` in the scenario config): object_size_kb, max_keys_in_memory,
min_wait_s, max_wait_s.

    chopsticks run -f scenarios/s3_small_objects.py --headless --users 32 --spawn-rate 8 --duration 1m
"""
from chopsticks.workloads import S3Workload, between, get_scenario_value, task

OBJECT_SIZE = int(get_scenario_value("s3_small_objects", "object_size_kb") * 1024)
MAX_KEYS = get_scenario_value("s3_small_objects", "max_keys_in_memory")


class S3SmallObjects(S3Workload):
    wait_time = between(get_scenario_value("s3_small_objects", "min_wait_s"),
                        get_scenario_value("s3_small_objects", "max_wait_s"))

    def on_start(self):
        self.keys = []

    @task(5)
    def upload(self):
        key = self.generate_key(f"small-objects/user-{self.user_id}")
        if self.client.upload(key, self.generate_data(OBJECT_SIZE)):
            self.keys.append(key)
            if len(self.keys) > MAX_KEYS:
                self.client.delete(self.keys.pop(0))

    @task(4)
    def download(self):
        if not self.keys:
            return
        data = self.client.download(self.random.choice(self.keys))
        if data is not None and len(data) != OBJECT_SIZE:
            raise ValueError(f"downloaded {len(data)} bytes, expected {OBJECT_SIZE}")

    @task(1)
    def head(self):
        if self.keys:
            self.client.head_object(self.random.choice(self.keys))

    def on_stop(self):
        for key in self.keys:
            self.client.delete(key)
