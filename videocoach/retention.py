"""Retention and the teacher's rights: automatic expiry, purge, and export of everything held about their lessons."""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path

from videocoach.core.serialize import to_plain
from videocoach.storage.records import LessonBusy, User
from videocoach.storage.store import Store

# Lessons with no meeting date yet expire this long after upload, so nothing is kept forever by accident.
DEFAULT_UNMET_RETENTION_DAYS = 90


def purge_expired(store: Store, now: float | None = None) -> list[str]:
    """Erase every lesson past its expiry (and, with no meeting date, past the unmet-lesson limit)."""
    now = time.time() if now is None else now
    erased = []
    for lesson in store.all_lessons():
        expires = lesson.expires_at
        if expires is None and lesson.meeting_at is None:
            expires = lesson.created_at + DEFAULT_UNMET_RETENTION_DAYS * 24 * 3600
        if expires is not None and expires <= now:
            try:
                with store.lesson_lock(lesson.id):  # never erase under a process working on it; next purge will
                    store.delete_lesson(None, lesson.id,
                                        f"retention: expired {time.strftime('%Y-%m-%d', time.gmtime(expires))}")
            except LessonBusy:
                continue
            erased.append(lesson.id)
    # stale transient files (a crash can leave plaintext in the work dir): remove anything older than a day
    for path in store.work_dir.glob("*"):
        if path.is_file() and path.stat().st_mtime < now - 24 * 3600:
            path.unlink(missing_ok=True)
    return erased


def export_user_data(store: Store, user: User, out_path: Path, include_video: bool = True) -> Path:
    """A zip of everything held about the teacher's own lessons: records, analysis, bookmarks, audit, media."""
    from videocoach.storage import exports
    from videocoach import pipeline

    out_path = Path(out_path)
    if out_path.suffix != ".zip":
        out_path = out_path.with_suffix(".zip")
    tmp = out_path.with_name(out_path.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("account.json", json.dumps(to_plain(user), indent=2))
        for lesson in store.lessons_for(user):
            if lesson.owner_id != user.id:
                continue
            base = f"lessons/{lesson.id}"
            zf.writestr(f"{base}/lesson.json", json.dumps(to_plain(lesson), indent=2))
            zf.writestr(f"{base}/shared_with.json", json.dumps([c.username for c in store.shared_with(lesson.id)]))
            for stage in store.finished_stages(lesson.id):
                zf.writestr(f"{base}/stages/{stage}.json", store.stage(lesson.id, stage) or "")
            if store.stage(lesson.id, "roles"):
                analysis = pipeline.load_analysis(store, lesson.id)
                zf.writestr(f"{base}/transcript.vtt", exports.to_webvtt(analysis.utterances()))
                zf.writestr(f"{base}/turns.rttm", exports.to_rttm(analysis, uri=lesson.id[:8]))
            zf.writestr(f"{base}/bookmarks.json", json.dumps(to_plain(store.bookmarks(user, lesson.id)), indent=2))
            record = store.meeting_record(user, lesson.id)
            zf.writestr(f"{base}/meeting_record.json", json.dumps(to_plain(record), indent=2))
            zf.writestr(f"{base}/audit_log.json", json.dumps(to_plain(store.audit_entries(lesson.id)), indent=2))
            if include_video:
                for kind in sorted(store.media_kinds(lesson.id)):
                    if kind == "voice_windows":
                        continue
                    with store.open_media(lesson.id, kind) as sealed, zf.open(f"{base}/media/{kind}", "w",
                                                                               force_zip64=True) as dst:
                        for block in sealed.iter_range(0, sealed.size):
                            dst.write(block)
    tmp.replace(out_path)
    store.audit(user.id, "export_my_data", None, f"lessons={len(store.lessons_for(user))}")
    return out_path
