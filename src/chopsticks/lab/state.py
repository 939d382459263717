"""What a running lab is: LabInfo, saved as `<dir>/lab.json` once the lab is complete."""
import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

LAB_JSON = "lab.json"


@dataclass(frozen=True)
class LabInfo:
    """Everything a client needs to use a lab, and the PIDs `down` stops."""

    dir: Path
    conf: Path
    keyring: Path
    client_id: str
    fsid: str
    mon_addr: str
    pool: str
    image: str
    image_size: int
    s3_endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    s3_config: Path
    pids: dict[str, int]
    s3_tls_endpoint: str = ""               # RGW's HTTPS endpoint (labs made before it: none)
    s3_tls_config: Path | None = None       # the S3 config naming it, with the lab's CA as ca_bundle

    def save(self) -> None:
        """Write lab.json atomically, so a reader never sees half a lab."""
        data = {name: str(value) if isinstance(value, Path) else value for name, value in asdict(self).items()}
        tmp = self.dir / f"{LAB_JSON}.tmp"
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, self.dir / LAB_JSON)

    @classmethod
    def load(cls, lab_dir: Path) -> "LabInfo | None":
        """The lab recorded in lab_dir, or None if there is none (or it is unreadable)."""
        try:
            data = json.loads((lab_dir / LAB_JSON).read_text())
            path_fields = {f.name for f in fields(cls) if f.type in (Path, Path | None)}
            return cls(**{name: Path(value) if name in path_fields and value is not None else value
                          for name, value in data.items()})
        except (OSError, ValueError, TypeError):
            return None
