"""Where things live.  Frozen settings, read from the environment once at the edges (CLI, app), never globals."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def cache_dir() -> Path:
    """A writable cache for derived model files (joined or converted weights).  Never a model hub."""
    root = os.environ.get("VIDEOCOACH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "videocoach"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class Settings:
    """Deployment settings.  ``data_dir`` holds the database and encrypted media; the key lives outside it."""

    data_dir: Path
    key_file: Path
    retention_days_after_meeting: int = 30
    max_upload_bytes: int = 8 * 1024**3  # 8 GiB: a 50-minute 1080p lesson is ~2-4 GiB
    max_duration_s: float = 3 * 3600.0  # 3 hours
    max_width: int = 3840
    max_height: int = 2160
    trusted_proxies: tuple[str, ...] = ()  # reverse proxies whose X-Forwarded-For names the client (ratelimit.py)
    database_url: str | None = None  # None: SQLite in data_dir; else e.g. postgresql+psycopg://user@host/videocoach
    queue_url: str | None = None  # None: the embedded queue (SQLite in data_dir); else redis://host:6379/0
    work_dir: Path | None = None  # transient plaintext files; None: data_dir/work (set a local disk when data_dir
    # is a shared mount, so plaintext never crosses the network)
    # the video stages run beside the audio ones this much lower in CPU priority (statistics first); 0 where other
    # heavy work shares the machine, which would otherwise starve them (overlap.py)
    video_nice: int = 19

    @staticmethod
    def from_env() -> "Settings":
        data_dir = Path(os.environ.get("VIDEOCOACH_DATA", "data")).resolve()
        key_file = Path(
            os.environ.get("VIDEOCOACH_KEY_FILE")
            or os.path.join(os.path.expanduser("~/.config/videocoach"), f"{_slug(data_dir)}.key")
        ).resolve()
        retention = int(os.environ.get("VIDEOCOACH_RETENTION_DAYS", "30"))
        proxies = tuple(p.strip() for p in os.environ.get("VIDEOCOACH_TRUSTED_PROXIES", "").split(",") if p.strip())
        return Settings(data_dir=data_dir, key_file=key_file, retention_days_after_meeting=retention,
                        trusted_proxies=proxies, database_url=os.environ.get("VIDEOCOACH_DATABASE_URL") or None,
                        queue_url=os.environ.get("VIDEOCOACH_QUEUE_URL") or None,
                        work_dir=Path(os.environ["VIDEOCOACH_WORK_DIR"]).resolve()
                        if os.environ.get("VIDEOCOACH_WORK_DIR") else None,
                        video_nice=int(os.environ.get("VIDEOCOACH_VIDEO_NICE", "19")))


def _slug(path: Path) -> str:
    import hashlib

    return "data-" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
