"""chopsticks 0.x's module path for S3 scenarios (`from chopsticks.workloads.s3.s3_workload import
S3Workload`): the same classes as chopsticks.workloads."""
from chopsticks.workloads.s3 import S3Client, S3Workload

__all__ = ["S3Client", "S3Workload"]
