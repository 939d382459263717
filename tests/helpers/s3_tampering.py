"""S3 drivers for the `bench s3 --verify` tests, loaded as ``helpers.s3_tampering:Class`` (with
tests/ on sys.path, in every worker)."""
from helpers.custom_driver import DictDriver

from chopsticks.drivers.s3.boto3_driver import Boto3Driver

CORRUPTED = "/000000002"        # the key (its tail) whose bytes change behind chopsticks' back
CORRUPTED_BYTE = 100


class CorruptingBoto3Driver(Boto3Driver):
    """boto3, except that right after the object ending in CORRUPTED is written, another client
    (boto3 directly, not the driver) overwrites it in the bucket with the same bytes but one."""

    def upload(self, key, data, metadata=None):
        if not super().upload(key, data, metadata):
            return False
        if key.endswith(CORRUPTED):
            changed = bytearray(data)
            changed[CORRUPTED_BYTE] ^= 0xFF
            self.client.put_object(Bucket=self.bucket, Key=key, Body=bytes(changed))
        return True


class BodilessDriver(DictDriver):
    """A 0.x driver whose download() answers success without the object's bytes."""

    def download(self, key):
        return b"" if key in self.objects else None
