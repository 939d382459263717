"""From what the workers recorded to what users read: histogram (bucket math, merge, percentiles),
summary and export (table, CSV, JSON). Also chopsticks 0.x's OperationType and WorkloadType, which
0.x scenarios import from here to pass to `_record_metric`."""
import enum


class OperationType(str, enum.Enum):
    """chopsticks 0.x's operation names: the scenario clients' ops (S3: upload, download, delete,
    list, head; RBD: read, write), the names their rows carry."""

    UPLOAD = "upload"
    DOWNLOAD = "download"
    DELETE = "delete"
    LIST = "list"
    HEAD = "head"
    READ = "read"
    WRITE = "write"


class WorkloadType(str, enum.Enum):
    S3 = "s3"
    RBD = "rbd"
