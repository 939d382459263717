"""A third-party S3 driver as the 0.x docs teach it: only the five operations, no last_error.

Tests load it as ``helpers.custom_driver:DictDriver`` (with tests/ on sys.path) to prove that a
driver registers without editing chopsticks.
"""
from chopsticks.drivers.s3.base import BaseS3Driver


class DictDriver(BaseS3Driver):
    """Objects in a dict of this instance; ``driver_config.label`` is kept to show it is passed."""

    def __init__(self, config: dict):
        super().__init__(config)
        self.label = self.driver_config.get("label")
        self.objects: dict[str, bytes] = {}

    def upload(self, key, data, metadata=None):
        self.objects[key] = bytes(data)
        return True

    def download(self, key):
        return self.objects.get(key)

    def delete(self, key):
        self.objects.pop(key, None)
        return True

    def list_objects(self, prefix="", max_keys=1000):
        return sorted(k for k in self.objects if k.startswith(prefix))[:max_keys]

    def head_object(self, key):
        data = self.objects.get(key)
        return None if data is None else {"size": len(data), "etag": "", "last_modified": None, "metadata": {}}


class NotADriver:
    """Has the right method names but does not derive from BaseS3Driver."""

    def upload(self, key, data, metadata=None):
        return True
