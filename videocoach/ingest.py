"""A lesson comes in: the user's file checked (ffprobe allow-list) and sealed, the analysis options and consent policy
recorded with it, and the same upload found again instead of stored twice.  The pipeline (:mod:`videocoach.pipeline`)
takes it from there.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from videocoach.core import serialize
from videocoach.core.digest import file_sha256
from videocoach.core.model import (
    Span,
)
from videocoach.storage.records import Lesson, User
from videocoach.storage.store import Store


class PipelineError(RuntimeError):
    """A stage failed; the message is for the user.  Finished stages are kept."""


@dataclass(frozen=True)
class AnalyseOptions:
    asr_engine: str = "faster-whisper"
    asr_model: str = "base"
    teacher_sample: Span | None = None  # a stretch of this lesson where only the teacher speaks
    teacher_sample_file: str | None = None  # an audio file of the teacher's voice, kept per teacher
    num_speakers: int | None = None
    redact: bool = True
    pyannote_config: str | None = None  # a local pyannote.audio pipeline config.yaml: diarise with it instead


# -- ingest --------------------------------------------------------------------------------------------------------------
def ingest_file(
    store: Store, owner: User, path: Path, *, title: str = "", policy_name: str | None = None,
    options: AnalyseOptions = AnalyseOptions(), original_name: str | None = None, consent_record: str | None = None,
) -> Lesson:
    """Check a user's file (hardened probe) and store it sealed.  Bad input raises MediaError and stores nothing.
    ``original_name``: the name the user gave (an upload), used in messages and kept as text instead of ``path``'s."""
    from videocoach.av import media
    from videocoach.privacy import policy

    path = Path(path)
    name = original_name if original_name is not None else path.name
    try:
        info = media.probe(path, upload_limits(store))
    except media.MediaError as exc:
        if original_name is None:
            raise
        raise media.MediaError(str(exc).replace(str(path), name).replace(path.name, name)) from None
    pol = policy.load_policy(policy_name, consent_record=consent_record)  # refused before anything is stored
    settings = _options_to_settings(options)
    settings["policy"] = policy.policy_to_dict(pol)
    settings["sha256"] = file_sha256(path)
    lesson = store.create_lesson(owner, title or Path(name).stem, name, pol.name, settings=settings)
    try:
        store.put_media_file(lesson.id, "original", path)
        store.save_stage(lesson.id, "probe", serialize.dumps(info))
        if pol.consent_record:
            audit_policy_choice(store, owner.id, lesson.id, pol.name, pol.consent_record)
        store.update_lesson(lesson.id, duration_s=info.duration_s, policy_version=pol.version)
    except BaseException:
        store.delete_lesson(None, lesson.id, "ingest failed")
        raise
    return store.lesson(lesson.id)


def audit_policy_choice(
    store: Store, actor_id: int | None, lesson_id: str, policy_name: str | None, consent_record: str | None,
    note: str = "",
) -> None:
    """Record in the audit log which consent policy a lesson gets, with the consent record a policy hiding no face
    was given on."""
    detail = f"policy={policy_name}" + (f" consent_record={consent_record[:200]}" if consent_record else "")
    store.audit(actor_id, "lesson.policy", lesson_id, detail + (f" ({note})" if note else ""))


def ingest_stream(
    store: Store, owner: User, stream: BinaryIO, original_name: str, *, title: str = "", policy_name: str | None = None,
    options: AnalyseOptions = AnalyseOptions(), consent_record: str | None = None,
) -> Lesson:
    """An upload: streamed to a transient file under the store's work dir (size-limited), then :func:`ingest_file`."""
    suffix = "".join(c for c in Path(original_name).suffix[:8] if c.isalnum() or c == ".")
    fd, tmp = tempfile.mkstemp(prefix="upload-", suffix=suffix, dir=store.work_dir)
    try:
        size = 0
        with open(fd, "wb") as out:
            while block := stream.read(1024 * 1024):
                size += len(block)
                if size > store.settings.max_upload_bytes:
                    from videocoach.av.media import MediaError

                    raise MediaError(
                        f"{original_name}: the file is larger than the limit of "
                        f"{store.settings.max_upload_bytes / 1024**3:.1f} GiB"
                    )
                out.write(block)
        # the file name the user gave is kept as text only; the stored file has a server-generated name
        return ingest_file(store, owner, Path(tmp), title=title or Path(original_name).stem,
                           policy_name=policy_name, options=options, original_name=original_name,
                           consent_record=consent_record)
    finally:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()


def find_same_upload(store: Store, owner: User, path: Path) -> Lesson | None:
    """An earlier lesson of this owner made from the same file (so a re-run resumes instead of duplicating)."""
    sha = file_sha256(path)
    for lesson in store.lessons_for(owner):
        if lesson.owner_id == owner.id and lesson.settings.get("sha256") == sha:
            return lesson
    return None


def upload_limits(store: Store):
    from videocoach.av.media import MediaLimits

    s = store.settings
    return MediaLimits(max_bytes=s.max_upload_bytes, max_duration_s=s.max_duration_s, max_width=s.max_width,
                       max_height=s.max_height)


def _options_to_settings(options: AnalyseOptions) -> dict:
    return json.loads(serialize.dumps(options))


def options_of(lesson: Lesson) -> AnalyseOptions:
    known = {k: v for k, v in lesson.settings.items() if k in AnalyseOptions.__dataclass_fields__}
    return serialize.from_plain(AnalyseOptions, known)


# -- loading stored results ------------------------------------------------------------------------------------------------
def lesson_policy(lesson: Lesson):
    """The consent policy this lesson is rendered with: the one pinned in its settings at upload (or at the last
    policy change), else the shipped policy of that name."""
    from videocoach.privacy import policy

    raw = lesson.settings.get("policy")
    if raw:
        return policy.policy_from_dict(dict(raw), source=f"the policy kept with lesson {lesson.id[:8]}")
    return policy.load_policy(lesson.policy_name)
