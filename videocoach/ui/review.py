"""What the review pages need from the store, the pipeline and the metrics, as plain functions (no Streamlit here).

Pages stay thin: they lay out widgets and call these.  Every function that reads or changes a lesson on behalf of
a user goes through ``Store.require_access`` (directly or via the store method it calls), so a refusal is audited.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from videocoach.core import serialize
from videocoach.config import Settings
from videocoach.measures.activities import babble_spans
from videocoach.measures.metrics import LessonMetrics
from videocoach.core.model import LessonAnalysis, Span
from videocoach.storage.records import Bookmark, Lesson, MeetingRecord, User
from videocoach.storage.store import Store
from videocoach.ui import wording

# Tags from the coaching guide's Figure 9 techniques, plus the agreed coaching focus of this cycle.
BOOKMARK_TAGS: tuple[str, ...] = (
    "critical incident",
    "positive feature",
    "question",
    "pupil question",
    "behaviour",
    "interaction",
    "language",
    "room and resources",
    "agreed coaching focus",
)
# "If the video extract is replayed more than once use each occasion to look at the events from alternative
# perspectives" (guide, Figure 9): offered as one-click starts for a replay note.
REPLAY_PERSPECTIVES: tuple[str, ...] = (
    "Looked at it from the pupils' side",
    "Looked at the teacher's decisions",
    "Looked at the trigger and the outcome",
    "Listened to the language used",
    "Watched body language and attention",
)
DEFAULT_LEAD_IN_S = 10.0  # a meeting clip starts this long before the bookmark ...
DEFAULT_LEAD_OUT_S = 20.0  # ... and ends this long after it (the guide: short, focused extracts)
MAX_LEAD_S = 120.0


# -- times -----------------------------------------------------------------------------------------------------------------
def fmt_time(seconds: float | None) -> str:
    """m:ss, rounded as the player rounds (half up), so a span reads the same on the page and in the player."""
    return wording.mmss(seconds)


def parse_time(text: str) -> float:
    """ "75", "1:15", "1:15.5" or "0:01:15" → seconds; ValueError with a readable message otherwise."""
    text = (text or "").strip()
    if not re.fullmatch(r"\d+(?::\d{1,2}){0,2}(?:\.\d+)?", text):
        raise ValueError(f"{text!r} is not a time: write seconds (75) or minutes:seconds (1:15)")
    parts = text.split(":")
    if any(float(part) >= 60 for part in parts[1:]):  # "1:99" is a typo, not 2:39
        raise ValueError(f"{text!r} is not a time: minutes and seconds run from 00 to 59")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    return seconds


def moment_span(t_s: float, duration_s: float, before_s: float = 10.0, after_s: float = 20.0) -> Span:
    """The default stretch of a bookmark made at one moment: ``before_s`` before it to ``after_s`` after it,
    inside the lesson (a moment alone is too short to replay in the meeting)."""
    end_limit = duration_s if duration_s > 0 else t_s + after_s
    start = min(max(0.0, t_s - before_s), end_limit)
    return Span(start, max(start, min(end_limit, t_s + after_s)))


def bookmark_times(start_text: str, end_text: str, duration_s: float) -> Span:
    """A bookmark form's From and To, checked: a bad time, an end before the start or past the lesson's end is a
    ValueError that names the field."""
    try:
        start = parse_time(start_text)
    except ValueError as exc:
        raise ValueError(f"From: {exc}") from None
    try:
        end = parse_time(end_text) if (end_text or "").strip() else start
    except ValueError as exc:
        raise ValueError(f"To: {exc}") from None
    if end < start:
        raise ValueError(f"To ({fmt_time(end)}) comes before From ({fmt_time(start)}): the end must not come "
                         "before the start")
    if duration_s > 0 and start > duration_s + 0.5:
        raise ValueError(f"From ({fmt_time(start)}) is after the end of the lesson ({fmt_time(duration_s)})")
    if duration_s > 0 and end > duration_s + 0.5:
        raise ValueError(f"To ({fmt_time(end)}) is after the end of the lesson ({fmt_time(duration_s)})")
    return Span(start, min(end, duration_s) if duration_s > 0 else end)


def parse_span(text: str) -> Span | None:
    """ "0:05-0:20" → Span(5, 20); "" → None; ValueError for anything else."""
    text = (text or "").strip().replace("–", "-")
    if not text:
        return None
    parts = text.split("-")
    if len(parts) != 2:
        raise ValueError(f"{text!r}: write a stretch as start-end, e.g. 0:05-0:20")
    start, end = parse_time(parts[0]), parse_time(parts[1])
    if end <= start:
        raise ValueError(f"{text!r}: the end must come after the start")
    return Span(start, end)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$])")


def md(text: object) -> str:
    """User text (titles, notes, names, transcript) made inert for ``st.markdown``: no links, no formatting."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def fmt_date(ts: float | None) -> str:
    return _dt.datetime.fromtimestamp(ts).strftime("%d %b %Y %H:%M") if ts else "–"


# -- lessons and background jobs -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Activity:
    """What the background worker is doing (or last did) for a lesson."""

    kind: str  # "analyse" | "rerender"
    status: str  # "queued" | "running" | "done" | "failed"
    stage: str
    progress: float
    message: str

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")


def lesson_activity(store: Store, user: User, lesson_id: str) -> Activity | None:
    store.require_access(user, lesson_id, "lesson.progress")
    jobs = store.jobs_for_lesson(lesson_id)
    if not jobs:
        return None
    job = jobs[-1]
    return Activity(job.kind, job.status, job.stage, job.progress, job.message)


def start_job(store: Store, settings: Settings, lesson_id: str, kind: str, params: dict | None = None,
              *, start_worker: bool = True) -> int:
    """Queue a job for the background worker and make sure one runs (never inside the Streamlit script run).

    ``VIDEOCOACH_WORKER=external`` says the worker runs as its own service (systemd, a container): the app then only
    queues jobs and never starts one itself.
    """
    from videocoach import tasks

    job_id = store.enqueue_job(lesson_id, kind, params)
    tasks.submit(settings, job_id)
    if start_worker and os.environ.get("VIDEOCOACH_WORKER", "auto").strip().lower() != "external":
        from videocoach import worker

        worker.ensure_worker(settings)
    return job_id


def upload_lesson(
    store: Store, settings: Settings, user: User, path: Path, original_name: str, *, title: str = "",
    policy_name: str | None = None, teacher_sample: Span | None = None, start_worker: bool = True,
) -> Lesson:
    """Store an upload's working file sealed (bad files raise ``videocoach.av.media.MediaError``, naming the user's
    file, never the working copy) and queue its analysis."""
    from videocoach import pipeline
    from videocoach.privacy import policy

    policy.load_named_policy(policy_name)  # from the web: a policy NAME only, never a path on the server
    options = pipeline.AnalyseOptions(teacher_sample=teacher_sample)
    shown = original_name.replace("\\", "/").rsplit("/", 1)[-1]
    lesson = pipeline.ingest_file(store, user, path, title=title or Path(shown).stem, policy_name=policy_name,
                                  options=options, original_name=shown)
    start_job(store, settings, lesson.id, "analyse", start_worker=start_worker)
    return lesson


def shareable_coaches(store: Store, owner: User, lesson_id: str) -> tuple[list[User], list[User]]:
    """(coaches it is shared with, coaches it could be shared with) -- owner only."""
    store.require_access(owner, lesson_id, "lesson.sharing", owner_only=True)
    shared = store.shared_with(lesson_id)
    ids = {u.id for u in shared}
    return shared, [c for c in store.users("coach") if c.id not in ids]


# -- analysis views ---------------------------------------------------------------------------------------------------------
_ANALYSIS_STAGES = ("probe", "transcribe", "diarize", "roles", "metrics")


def analysis_ready(store: Store, user: User, lesson_id: str) -> bool:
    store.require_access(user, lesson_id, "analysis.view")
    done = set(store.finished_stages(lesson_id))
    return all(s in done for s in _ANALYSIS_STAGES)


def load_analysis(store: Store, user: User, lesson_id: str) -> LessonAnalysis | None:
    """The stored analysis, or None while the audio stages (up to the metrics) have not finished."""
    from videocoach import pipeline

    if not analysis_ready(store, user, lesson_id):
        return None
    return pipeline.load_analysis(store, lesson_id)


def load_metrics(store: Store, user: User, lesson_id: str) -> LessonMetrics | None:
    """The lesson's ``LessonMetrics`` (recomputed if the cached copy is stale), or None before analysis finished."""
    from videocoach import pipeline

    if load_analysis(store, user, lesson_id) is None:
        return None
    return pipeline.load_metrics(store, lesson_id)


def transcript_cues(analysis: LessonAnalysis) -> list[dict]:
    """Transcript lines for the player: start, end, speaker, role, text."""
    return [
        {"t": round(u.start, 2), "e": round(u.end, 2), "speaker": u.speaker or "", "role": u.role or "",
         "text": u.text.strip()}
        for u in analysis.utterances()
        if u.text.strip()
    ]


@dataclass(frozen=True)
class SpeakerRow:
    speaker: str
    role: str
    talk_s: float
    turns: int  # speaking turns (``measures.figures.turns_by_speaker``)
    first_s: float
    sample: str  # the first thing this voice said (helps a reviewer recognise it)


def speaker_rows(analysis: LessonAnalysis) -> list[SpeakerRow]:
    from videocoach.measures.figures import turns_by_speaker

    rows = []
    utterances = analysis.utterances()
    runs = turns_by_speaker(analysis.role_turns(), analysis.duration_s)  # speaking turns, as the summary counts them
    for speaker in analysis.diarization.speakers:
        turns = [t for t in analysis.diarization.turns if t.speaker == speaker]
        said = [u.text.strip() for u in utterances if u.speaker == speaker and len(u.text.split()) >= 3]
        rows.append(SpeakerRow(
            speaker=speaker,
            role=analysis.roles.role_of(speaker) or "pupil",
            talk_s=sum(t.duration for t in turns),
            turns=runs.get(speaker, 0),
            first_s=min(t.start for t in turns),
            sample=(said[0][:120] if said else ""),
        ))
    return sorted(rows, key=lambda r: -r.talk_s)


def correct_teacher(store: Store, user: User, lesson_id: str, speakers: Sequence[str]):
    """A reviewer says which voices are the teacher; the metrics recompute (ASR is not re-run)."""
    from videocoach import pipeline

    if not speakers:
        raise ValueError("choose at least one voice as the teacher's")
    return pipeline.set_teacher_speakers(store, user, lesson_id, list(speakers))


# -- faces (who stays visible in the redacted video) -----------------------------------------------------------------------
@dataclass(frozen=True)
class TrackRow:
    track_id: int
    number: int  # 1..N, by first appearance: what the page shows
    start_s: float
    end_s: float
    detections: int
    at_s: float  # a moment the face is on screen (the middle detection)
    box: tuple[float, float, float, float]  # its box then, as shares of the frame (x, y, w, h)
    label: str  # "teacher" | "consented" | "" (hidden)


def face_tracks(store: Store, user: User, lesson_id: str, limit: int = 40) -> list[TrackRow]:
    """The longest face tracks (a teacher is on screen for long), by first appearance; no pixels, only geometry."""
    from videocoach.privacy.redact import FaceTracks

    store.require_access(user, lesson_id, "faces.view")
    text = store.stage(lesson_id, "faces")
    if text is None:
        return []
    tracks = serialize.loads(FaceTracks, text)
    marks = store.face_marks(lesson_id)
    ordered = sorted(tracks.tracks, key=lambda t: t.start_s)
    numbers = {t.id: i + 1 for i, t in enumerate(ordered)}
    longest = sorted(ordered, key=lambda t: -(t.end_s - t.start_s + 1e-3 * len(t.detections)))[:limit]
    rows = []
    for t in sorted(longest, key=lambda t: t.start_s):
        mid = t.detections[len(t.detections) // 2]
        x1, y1, x2, y2 = mid.box
        w, h = float(tracks.width), float(tracks.height)
        box = (max(0.0, x1 / w), max(0.0, y1 / h), min(1.0, (x2 - x1) / w), min(1.0, (y2 - y1) / h))
        rows.append(TrackRow(t.id, numbers[t.id], t.start_s, t.end_s, len(t.detections), mid.t_s, box,
                             marks.get(t.id, "")))
    return rows


def teacher_face_unmarked(store: Store, user: User, lesson_id: str) -> bool:
    """Faces were found and the hiding policy hides them, but no track is marked as the teacher yet."""
    from videocoach import pipeline

    store.require_access(user, lesson_id, "faces.view")
    text = store.stage(lesson_id, "faces")
    if text is None or not json.loads(text).get("tracks"):
        return False
    if not pipeline.lesson_policy(store.lesson(lesson_id)).hide_faces:
        return False
    return "teacher" not in store.face_marks(lesson_id).values()


def mark_face(store: Store, settings: Settings, user: User, lesson_id: str, track_id: int, label: str | None,
              *, consent_record: str | None = None, start_worker: bool = True) -> None:
    """The owner marks a track visible (teacher / consented pupil, naming its consent record) or hidden again,
    then re-render.  ``Store.mark_face`` refuses anyone but the owner.

    Fail closed: the current rendition stops playing at once (its render and audit results are cleared) and plays
    again only after the re-render and its audit -- un-marking a face must never leave the old rendition playing.
    """
    if label not in (None, "teacher", "consented"):
        raise ValueError(f"unknown face label {label!r}")
    store.mark_face(user, lesson_id, int(track_id), label, consent_record)
    store.clear_stages(lesson_id, ["render", "audit"])
    store.update_lesson(lesson_id, status="processing")
    start_job(store, settings, lesson_id, "rerender", {}, start_worker=start_worker)


def change_policy(store: Store, settings: Settings, user: User, lesson_id: str, policy_name: str,
                  *, consent_record: str | None = None, start_worker: bool = True) -> None:
    """The owner picks another consent policy: detection and rendering run again (playback stops until then).
    A policy that hides no face needs ``consent_record``: which record shows every pupil filmed consented."""
    from videocoach import pipeline
    from videocoach.privacy import policy

    store.require_access(user, lesson_id, "lesson.policy", owner_only=True)
    policy.load_named_policy(policy_name, consent_record=consent_record)  # a name only; refused before any change
    store.begin_policy_change(user, lesson_id, policy_name)
    pipeline.audit_policy_choice(store, user.id, lesson_id, policy_name, consent_record)
    params = {"policy": policy_name}
    if consent_record:
        params["consent_record"] = consent_record
    start_job(store, settings, lesson_id, "rerender", params, start_worker=start_worker)


@dataclass(frozen=True)
class Finding:
    t_s: float
    score: float
    crop_png: bytes


def audit_findings(store: Store, user: User, lesson_id: str) -> list[Finding]:
    """Faces the redaction audit saw in the rendered output (frame crops for the reviewer)."""
    import base64

    lesson = store.require_access(user, lesson_id, "audit.view")
    text = store.stage(lesson_id, "audit")
    if text is None:
        return []
    from videocoach import pipeline

    # the crops may show a pupil's face: the owner reviews them, nobody else gets their pixels
    crops = pipeline.audit_crops(store, lesson_id) if lesson.owner_id == user.id else []
    out = []
    for i, f in enumerate(json.loads(text).get("findings") or []):
        crop = (base64.b64decode(f["crop_png_b64"]) if f.get("crop_png_b64") and lesson.owner_id == user.id
                else (crops[i] if i < len(crops) else b""))
        out.append(Finding(float(f.get("t_s", 0.0)), float(f.get("score", 0.0)), crop))
    return out


def clear_audit(store: Store, user: User, lesson_id: str) -> Lesson:
    """The owner has looked at every finding and lets the rendition play (recorded in the audit log)."""
    from videocoach import pipeline

    lesson = store.clear_audit_findings(user, lesson_id)
    status = "processing" if pipeline.pending_stages(store, lesson.id) else "ready"
    return store.update_lesson(lesson_id, status=status)


# -- bookmarks ---------------------------------------------------------------------------------------------------------------
def clip_window(start_s: float, end_s: float, lead_in_s: float, lead_out_s: float, duration_s: float) -> Span:
    """The stretch a meeting clip plays: the bookmark with a lead-in before and a lead-out after, inside the lesson."""
    lead_in_s = min(max(0.0, lead_in_s), MAX_LEAD_S)
    lead_out_s = min(max(0.0, lead_out_s), MAX_LEAD_S)
    start = max(0.0, start_s - lead_in_s)
    end = end_s + lead_out_s
    if duration_s > 0:
        end = min(end, duration_s)
        start = min(start, end)
    return Span(start, max(start, end))


_EXPORT_FIELDS = ("id", "start", "end", "start_s", "end_s", "author", "tags", "note", "trigger", "outcome",
                  "created", "updated")


def bookmark_record(b: Bookmark) -> dict:
    return {
        "id": b.id, "start": fmt_time(b.start_s), "end": fmt_time(b.end_s), "start_s": round(b.start_s, 2),
        "end_s": round(b.end_s, 2), "author": b.author_name, "tags": list(b.tags), "note": b.note,
        "trigger": b.trigger, "outcome": b.outcome, "created": fmt_date(b.created_at), "updated": fmt_date(b.updated_at),
    }


def bookmarks_csv(bookmarks: Iterable[Bookmark]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=_EXPORT_FIELDS)
    writer.writeheader()
    for b in bookmarks:
        row = bookmark_record(b)
        row["tags"] = "; ".join(row["tags"])
        writer.writerow({k: _csv_safe(v) for k, v in row.items()})
    return out.getvalue()


def _csv_safe(value: Any) -> Any:
    """Spreadsheet formula injection: a cell starting with = + - @ is prefixed with a quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def bookmarks_json(lesson: Lesson, bookmarks: Iterable[Bookmark]) -> str:
    return json.dumps({"lesson": {"id": lesson.id, "title": lesson.title},
                       "bookmarks": [bookmark_record(b) for b in bookmarks]}, ensure_ascii=False, indent=2)


# -- the coaching-conversation record ----------------------------------------------------------------------------------------
def previous_cycle(store: Store, user: User, lesson: Lesson) -> tuple[Lesson, MeetingRecord] | None:
    """The record of the same teacher's previous lesson (that this user may see): the "follow-up from last cycle"."""
    store.require_access(user, lesson.id, "meeting.view")
    earlier = [l for l in store.lessons_for(user)
               if l.owner_id == lesson.owner_id and l.id != lesson.id and l.created_at < lesson.created_at]
    for prev in sorted(earlier, key=lambda l: l.created_at, reverse=True):
        record = store.meeting_record(user, prev.id)
        if record is not None:
            return prev, record
    return None


def parse_action_steps(rows: Iterable[dict]) -> tuple[tuple[str, str], ...]:
    """Rows of an editable table ({"step", "due"}) → ((step, ISO date), ...); empty rows dropped."""
    steps = []
    for row in rows:
        step = str(row.get("step") or "").strip()
        due = row.get("due")
        if isinstance(due, (_dt.date, _dt.datetime)):
            due = due.isoformat()[:10]
        due = str(due or "").strip()[:10]
        if due and due.lower() not in ("nat", "none", "nan"):
            _dt.date.fromisoformat(due)  # ValueError for a malformed date
        else:
            due = ""
        if step:
            steps.append((step, due))
    return tuple(steps)


# -- self-observation across lessons -----------------------------------------------------------------------------------------
def teachers_visible_to(store: Store, user: User) -> list[User]:
    """A teacher sees herself; a coach sees the teachers who shared at least one lesson with them."""
    if user.role == "teacher":
        return [user]
    owner_ids = sorted({l.owner_id for l in store.lessons_for(user)})
    return [store.user(i) for i in owner_ids]


def lessons_of_teacher(store: Store, user: User, teacher: User) -> list[Lesson]:
    """The teacher's analysed lessons this user may see, oldest first."""
    lessons = [l for l in store.lessons_for(user) if l.owner_id == teacher.id and store.stage(l.id, "roles")]
    return sorted(lessons, key=lambda l: l.created_at)


# -- the metrics, as rows for the pages and charts ---------------------------------------------------------------------------
@dataclass(frozen=True)
class StatsView:
    """A lesson's metrics as the pre-watch page shows them."""

    cards: tuple[tuple[str, str, str], ...]  # (label, value, explanation)
    minutes: tuple[dict, ...]  # {minute, role, seconds}
    question_types: tuple[dict, ...]  # {qtype, who, count}
    questions: tuple[dict, ...]  # for the player: {t, e, role, text, meta}
    question_table: tuple[dict, ...]  # for a table
    activities: tuple[dict, ...]  # {start, end, lane, label}
    activity_minutes: tuple[tuple[str, float], ...]  # (activity, seconds)
    moments: tuple[dict, ...]  # {start, end, kind, text}
    language: tuple[tuple[str, str], ...]  # (what, value)


RESPONSE_WORDS = {"pupil": "a pupil answered", "pupils": "several pupils answered", "self": "answered by the asker",
                  "teacher": "the teacher answered", "none": "no answer"}


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.0%}"


def _secs(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f} s"


def _label(text: str) -> str:
    return str(text).replace("_", " ")


def stats_view(metrics: LessonMetrics, analysis: LessonAnalysis | None = None) -> StatsView:
    """The page's rows.  The headline figures come from ``measures.figures`` (the CLI's ``show`` prints the same);
    ``analysis`` tells how many voices were told apart (without it, the figures say none were)."""
    from videocoach.measures.figures import lesson_figures

    talk = metrics.talk
    cards = wording.figure_cards(lesson_figures(metrics, analysis.role_turns() if analysis is not None else ()))
    minute_rows = []
    for m in talk.per_minute:
        for role, seconds in (("Teacher", m.teacher_s), ("Pupils", m.pupil_s), ("Silence", m.silence_s)):
            minute_rows.append({"minute": m.minute_start_s, "role": role, "seconds": seconds})
    counts: dict[tuple[str, str], int] = {}
    q_rows, q_table = [], []
    for q in metrics.questions:
        who = "Teacher" if q.role == "teacher" else "Pupils"
        counts[(q.qtype, who)] = counts.get((q.qtype, who), 0) + 1
        meta = f"{q.qtype} · {wording.response_phrase(q.response)}"
        if q.wait_time_1_s is not None:
            meta += f" · wait {q.wait_time_1_s:.1f} s"
        q_rows.append({"t": round(q.start, 2), "e": round(q.end, 2), "role": q.role or "", "text": q.text.strip(),
                       "meta": meta})
        # the question first (what a reader looks for), then plain words for why and what followed
        q_table.append({"question": q.text.strip(), "time": fmt_time(q.start), "who": who, "type": q.qtype,
                        "why this type": wording.reason_phrase(q.qtype_rule),
                        "response": wording.response_phrase(q.response), "pupils answering": q.responders,
                        "wait 1 (s)": None if q.wait_time_1_s is None else round(q.wait_time_1_s, 1),
                        "wait 2 (s)": None if q.wait_time_2_s is None else round(q.wait_time_2_s, 1)})
    acts = tuple({"start": a.start, "end": a.end, "lane": "Activity", "label": _label(a.label)}
                 for a in metrics.activities)
    act_minutes = tuple((_label(a.label), a.seconds) for a in sorted(metrics.activity_time, key=lambda a: -a.seconds)
                        if a.seconds > 0)  # seconds: the page shows m:ss
    moments = tuple({"start": m.start, "end": m.end, "kind": _label(m.kind), "text": m.description}
                    for m in metrics.moments)
    lang = metrics.language
    language = [
        ("Thinking and learning words", f"teacher {lang.thinking_teacher_total} "
                                        f"({lang.thinking_teacher_per_100_words:.1f} per 100 words), pupils "
                                        f"{lang.thinking_pupil_total} ({lang.thinking_pupil_per_100_words:.1f})"),
    ]
    if lang.subject_terms:
        language.append(("Subject words the teacher used most", ", ".join(t.term for t in lang.subject_terms[:10])))
    if lang.mirrored:
        language.append(("Teacher's words pupils took up", ", ".join(
            f"{t.term} ({fmt_time(t.pupil_first_s)})" for t in lang.mirrored[:10])))
    return StatsView(
        cards=cards, minutes=tuple(minute_rows),
        question_types=tuple({"qtype": k[0], "who": k[1], "count": v} for k, v in sorted(counts.items())),
        questions=tuple(q_rows), question_table=tuple(q_table), activities=acts, activity_minutes=act_minutes,
        moments=moments, language=tuple(language),
    )


def talk_rows(analysis: LessonAnalysis) -> list[dict]:
    """Timeline rows: teacher and pupil turns (merged when they touch), many voices at once (the babble detector), and
    the silences between them."""
    rows: list[dict] = []
    for role, lane in (("teacher", "Teacher"), ("pupil", "Pupils")):
        spans = sorted((t.start, t.end) for t in analysis.role_turns() if t.role == role)
        for start, end in _merge(spans, gap_s=0.3):
            rows.append({"start": start, "end": end, "lane": lane, "label": lane})
    many = babble_spans(analysis.levels, analysis.duration_s)
    rows += [{"start": a, "end": b, "lane": "Many voices", "label": "Many voices"} for a, b in many]
    speech = _merge(sorted([(t.start, t.end) for t in analysis.diarization.turns] + many), gap_s=0.0)
    cursor = 0.0
    for start, end in speech + [(analysis.duration_s, analysis.duration_s)]:
        if start - cursor >= 1.0:  # silences under a second are pauses, not silence worth showing
            rows.append({"start": cursor, "end": start, "lane": "Silence", "label": "Silence"})
        cursor = max(cursor, end)
    return rows


def _merge(spans: Sequence[tuple[float, float]], gap_s: float) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for start, end in spans:
        if out and start - out[-1][1] <= gap_s:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


@dataclass(frozen=True)
class ProgressRows:
    """Per-lesson measures of one teacher, oldest lesson first, as rows for the trend charts."""

    shares: tuple[dict, ...]  # {lesson, order, measure, share}
    qtypes: tuple[dict, ...]  # {lesson, order, qtype, count}
    waits: tuple[dict, ...]  # {lesson, order, measure, value}
    pupil_questions: tuple[dict, ...]  # {lesson, order, measure, value}
    table: tuple[dict, ...]
    uptake: tuple[dict, ...] = ()  # {lesson, order, measure, value}: share of pupil contributions taken up
    figures: tuple = ()  # measures.figures.LessonFigures per lesson, in the same order


def progress_rows(store: Store, user: User, teacher: User) -> ProgressRows:
    """The teacher's analysed lessons that ``user`` may see, side by side (``metrics.compare_lessons``)."""
    from videocoach.measures.metrics import compare_lessons

    from videocoach.measures.figures import lesson_figures

    items, figures = [], []
    for lesson in lessons_of_teacher(store, user, teacher):
        metrics = load_metrics(store, user, lesson.id)
        analysis = load_analysis(store, user, lesson.id)
        if metrics is not None and analysis is not None:
            items.append((lesson.id, f"{_dt.datetime.fromtimestamp(lesson.created_at):%d %b} {lesson.title[:24]}",
                          metrics))
            figures.append(lesson_figures(metrics, analysis.role_turns()))  # as Pre-watch and `videocoach show`
    shares, qtypes, waits, pupils, table, uptake = [], [], [], [], [], []
    for order, (row, fig) in enumerate(zip(compare_lessons(items), figures)):
        base = {"lesson": row.label, "order": order}
        shares += [{**base, "measure": name.capitalize(), "share": pct / 100.0} for name, pct in fig.talk.items()]
        qtypes += [{**base, "qtype": name, "count": count} for name, count in (
            ("open", row.open_questions), ("closed", row.closed_questions), ("procedural", row.procedural_questions),
            ("checking", row.checking_questions), ("rhetorical", row.rhetorical_questions)) if count]
        for measure, value in (("Wait time 1 (after a question)", row.mean_wait_time_1_s),
                               ("Wait time 2 (after an answer)", row.mean_wait_time_2_s)):
            if value is not None:
                waits.append({**base, "measure": measure, "value": value})
        pupils.append({**base, "measure": "Pupil questions", "value": float(row.pupil_questions)})
        table.append({"lesson": row.label, "teacher only": f"{fig.talk.teacher_only} %",
                      "pupils only": f"{fig.talk.pupils_only} %", "both": f"{fig.talk.both} %",
                      "many pupils at once": f"{fig.talk.many_pupils} %",
                      "silence": f"{fig.talk.silence} %", "teacher questions": fig.teacher_questions,
                      "open": row.open_questions,
                      "answered": "–" if fig.answered_percent is None else f"{fig.answered_percent} %",
                      "pupil questions": row.pupil_questions,
                      "wait 1 (s)": None if row.mean_wait_time_1_s is None else round(row.mean_wait_time_1_s, 1),
                      "pupils engaged": wording.engaged_phrase(fig),
                      "pupil ideas taken up": _pct(row.uptake_share)})
        if row.uptake_share is not None:
            uptake.append({**base, "measure": UPTAKE_MEASURE, "value": row.uptake_share})
    return ProgressRows(tuple(shares), tuple(qtypes), tuple(waits), tuple(pupils), tuple(table), tuple(uptake),
                       tuple(figures))


# -- uptake (measures.uptake): the pre-watch list and the progress line ----------------------------------------------
UPTAKE_MEASURE = "Pupil ideas taken up"
UPTAKE_EXPLANATION = ("Of the times a pupil spoke and you answered, how often your reply took up what the pupil said "
                      "-- repeating it, building on it or asking about it -- rather than moving on; research on "
                      "teacher uptake links this to pupils' learning.")


@dataclass(frozen=True)
class UptakeView:
    summary: str
    items: tuple[dict, ...]  # {start, end, pupil, teacher, repeated}: the exchanges taken up, in time order


def uptake_view(metrics: LessonMetrics) -> UptakeView:
    st = metrics.uptake_stats
    if st is None:
        return UptakeView("Not measured for this lesson yet (it was analysed before this measure existed).", ())
    if not st.exchanges:
        return UptakeView("No pupil contribution followed by a teacher reply was found.", ())
    items = tuple({"start": i.exchange.pupil_start, "end": i.exchange.teacher_end, "pupil": i.exchange.pupil_text,
                   "teacher": i.exchange.teacher_text, "repeated": ", ".join(i.repeated)}
                  for i in metrics.uptake if i.taken_up)
    summary = (f"The teacher took up what a pupil said in {st.taken_up} of {st.exchanges} replies to pupils "
               f"({_pct(st.share)}).")
    return UptakeView(summary, items)
