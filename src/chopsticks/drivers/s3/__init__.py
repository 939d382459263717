"""S3 drivers: the chopsticks 0.x ``BaseS3Driver`` API, the shipped drivers and their registry."""
from chopsticks.drivers.s3.base import ERROR_KINDS, BaseS3Driver, DriverError
from chopsticks.drivers.s3.registry import create_driver, driver_class, known_drivers

__all__ = ["ERROR_KINDS", "BaseS3Driver", "DriverError", "create_driver", "driver_class", "known_drivers"]
