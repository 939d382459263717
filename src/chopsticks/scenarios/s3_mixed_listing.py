"""S3 mixed with listings: each user fills its own prefix and lists it while reading, stat-ing and
deleting objects — the bucket index under a mixed load.

Tasks: upload ×3, list ×2 (the user's prefix, checked to contain the user's newest key),
download ×2, head ×2, delete ×1. Each user keeps at most `max_keys_in_memory` keys (older ones are
deleted) and deletes the rest in on_stop.

Parameters (`s3_mixed_listing:` in the scenario config): object_size_kb, max_keys_in_memory,
list_max_keys, min_wait_s, max_wait_s.

    chopsticks run -f scenarios/s3_mixed_listing.py --headless --users 16 --spawn-rate 4 --duration 2m
"""
from chopsticks.workloads import S3Workload, between, get_scenario_value, task

OBJECT_SIZE = int(get_scenario_value("s3_mixed_listing", "object_size_kb") * 1024)
MAX_KEYS = get_scenario_value("s3_mixed_listing", "max_keys_in_memory")
LIST_MAX_KEYS = get_scenario_value("s3_mixed_listing", "list_max_keys")


class S3MixedListing(S3Workload):
    wait_time = between(get_scenario_value("s3_mixed_listing", "min_wait_s"),
                        get_scenario_value("s3_mixed_listing", "max_wait_s"))

    def on_start(self):
        self.prefix = self.generate_key("mixed-listing")     # a prefix of this user's own
        self.keys = []

    @task(3)
    def upload(self):
        key = self.generate_key(self.prefix)
        if self.client.upload(key, self.generate_data(OBJECT_SIZE)):
            self.keys.append(key)
            if len(self.keys) > MAX_KEYS:
                self.client.delete(self.keys.pop(0))

    @task(2)
    def list(self):
        listed = self.client.list_objects(prefix=self.prefix + "/", max_keys=LIST_MAX_KEYS)
        if self.keys and len(self.keys) < LIST_MAX_KEYS and self.keys[-1] not in listed:
            raise LookupError(f"{self.keys[-1]} is missing from the listing of {self.prefix}/")

    @task(2)
    def download(self):
        if self.keys:
            self.client.download(self.random.choice(self.keys))

    @task(2)
    def head(self):
        if self.keys:
            self.client.head_object(self.random.choice(self.keys))

    @task(1)
    def delete(self):
        if self.keys:
            self.client.delete(self.keys.pop(self.random.randrange(len(self.keys))))

    def on_stop(self):
        for key in self.keys:
            self.client.delete(key)
