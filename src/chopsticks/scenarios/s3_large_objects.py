"""S3 large objects: upload, download (with a size check) and delete objects of several MiB.

As in chopsticks 0.x: tasks upload ×3, download ×2, delete ×1, a 1–3 s pause after each task, and
each user keeps at most `max_keys_in_memory` keys. Unlike 0.x, a key that falls off that list is
deleted (0.x forgot it and left the object behind), and on_stop deletes the rest.

Parameters (`s3_large_objects:` in the scenario config): object_size_mb, max_keys_in_memory,
min_wait_s, max_wait_s.

    chopsticks run -f scenarios/s3_large_objects.py --headless --users 10 --spawn-rate 2 --duration 5m
"""
from chopsticks.workloads import S3Workload, between, get_scenario_value, task

OBJECT_SIZE = int(get_scenario_value("s3_large_objects", "object_size_mb") * 2**20)
MAX_KEYS = get_scenario_value("s3_large_objects", "max_keys_in_memory")


class S3LargeObjects(S3Workload):
    wait_time = between(get_scenario_value("s3_large_objects", "min_wait_s"),
                        get_scenario_value("s3_large_objects", "max_wait_s"))

    def on_start(self):
        self.keys = []

    @task(3)
    def upload(self):
        key = self.generate_key(f"large-objects/{OBJECT_SIZE}")
        if self.client.upload(key, self.generate_data(OBJECT_SIZE)):
            self.keys.append(key)
            if len(self.keys) > MAX_KEYS:
                self.client.delete(self.keys.pop(0))

    @task(2)
    def download(self):
        if not self.keys:
            return
        data = self.client.download(self.random.choice(self.keys))
        if data is not None and len(data) != OBJECT_SIZE:
            raise ValueError(f"downloaded {len(data)} bytes, expected {OBJECT_SIZE}")

    @task(1)
    def delete(self):
        if self.keys:
            self.client.delete(self.keys.pop(0))

    def on_stop(self):
        for key in self.keys:
            self.client.delete(key)
