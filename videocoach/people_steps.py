"""The people step of a lesson and what the owner does with it: who is on screen, the teacher's face print
(enrol from a person of a lesson or from a photo, withdraw), and the teacher's movement around the room.

The stage (``stage_people``) runs after face detection and before rendering: it links face tracks into people
(``privacy.people``), and -- when the lesson's owner has enrolled their face -- names the tracks that are the teacher
with very high confidence; rendering shows those.  It reads the face descriptors the detection pass gathered
(``TRACK_FACES``, sealed) and the bodies it found every half second (``privacy.bodies``, stage ``bodies``: where the
teacher's face is turned away, their body continues their path in ``room_use``): no decode of its own (a lesson
detected before that is read once more, and then keeps them).  A photo enrolment reaches the owner's lessons
already analysed the same way, from stored descriptors.  Without an enrolment it only suggests who the teacher is:
nothing is shown until the owner confirms (``confirm_teacher``).  The owner's "No, not me" (``not_me``) keeps a
person hidden and unasked in that lesson, whatever the print (``with_answers``), and the next candidate is asked.
Thumbnails (faces, pupils' included) go sealed into the vault and are read only for the owner
(``person_thumbnail``).
"""

from __future__ import annotations

import json
from typing import Sequence

import numpy as np

from videocoach.core import serialize
from videocoach.core.model import Diarization, MediaInfo, Progress, RoleAssignment, no_progress
from videocoach.storage.records import Lesson, User
from videocoach.storage.store import Store

from videocoach.privacy.people import MIN_LISTED_S  # noqa: F401 (the panel names it)

STAGE = "people"
BODIES = "bodies"  # body boxes every half second (positions only), found in the people step's decode
THUMBS = "people_thumbs"
TRACK_FACES = "track_faces"  # every track's descriptors and thumbnail, from the detection pass (sealed: faces)
ENROL_MAX = 40  # descriptors kept in a face print


def _teacher_speech(store: Store, lesson_id: str) -> list[tuple[float, float]]:
    roles, diar = store.stage(lesson_id, "roles"), store.stage(lesson_id, "diarize")
    if roles is None or diar is None:
        return []
    teacher = serialize.loads(RoleAssignment, roles).teacher_speakers
    return [(t.start, t.end) for t in serialize.loads(Diarization, diar).turns if t.speaker in teacher]


def enrolled_face(store: Store, user_id: int) -> list[np.ndarray]:
    from videocoach.privacy import identity

    text = store.teacher_face(user_id)
    return identity.descriptors_from_json(json.loads(text)["descriptors"]) if text else []


def _embed_and_find_bodies(plain, info: MediaInfo, tracks, embedder, progress: Progress):
    """For a lesson detected before the detection pass gathered them: one decode at the video's own rate feeds the
    face prints and the body finder (every half second: positions for the movement measures only)."""
    from videocoach.av.video_io import FrameReader
    from videocoach.privacy import bodies, people

    with FrameReader(plain, info, fps=tracks.fps) as reader:  # the detector's own frames (``embed_tracks``)
        sampler = bodies.BodySampler(reader.width, reader.height)

        def frames():
            for f in reader:
                sampler.offer(f.image, f.t_s)
                if f.index % 100 == 0:
                    progress("people", min(0.99, f.t_s / max(1e-6, info.duration_s)))
                yield f.index, f.image

        descs, thumbs = people.embed_tracks(plain, info, tracks, embedder, progress, frames=frames())
    return descs, thumbs, sampler.result()


def both(gather, sampler):
    """The detection pass's callback: it feeds the face prints (every pass, ``privacy.people.TrackFaces``) and the
    body finder (every half second, ``privacy.bodies.BodySampler``)."""
    def on_pass(t_s: float, image: np.ndarray, detections) -> None:
        gather(t_s, image, detections)
        sampler.offer(image, t_s)
    return on_pass


def detect_only(store: Store, lesson: Lesson, info: MediaInfo, pol, progress: Progress) -> None:
    """Detection alone, nothing rendered (``pipeline._redact`` has cleared the stages): the video in stretches side
    by side (``onepass.detect_in_parts``: no encoder needs the second core), each with its own face prints and body
    sampler, merged."""
    from videocoach.privacy import bodies, embed_process, onepass, people

    gathers: dict[int, people.TrackFaces] = {}
    samplers: dict[int, bodies.BodySampler] = {}

    def on_detections_for(k: int):
        gathers[k] = people.TrackFaces(None, onepass.hold_s(pol, info.fps), process=embed_process.shared())
        samplers[k] = bodies.BodySampler(info.width, info.height)  # positions for the movement measures only
        return both(gathers[k], samplers[k])

    with store.media_plaintext(lesson.id, "original") as plain:
        tracks, parts = onepass.detect_in_parts(plain, info, pol, progress, on_detections_for=on_detections_for)
    descs: dict[int, list] = {}
    thumbs: dict[int, bytes] = {}
    for k, part in enumerate(parts):
        d, t = gathers[k].result(part)
        descs.update(d)
        thumbs.update(t)
    store.put_media_bytes(lesson.id, TRACK_FACES, people.track_faces_to_json(descs, thumbs))
    store.save_stage(lesson.id, BODIES,
                     bodies.merge_sightings([samplers[k].result() for k in range(len(parts))]).to_json())
    store.save_stage(lesson.id, "faces", serialize.dumps(tracks))


def stage_people(store: Store, lesson: Lesson, policy, progress: Progress = no_progress) -> None:
    from videocoach.privacy import identity, people
    from videocoach.privacy.tracking import FaceTracks

    tracks = serialize.loads(FaceTracks, store.stage(lesson.id, "faces") or "")
    stored = _track_faces(store, lesson.id, tracks)
    if stored is not None:
        descs, thumbs = stored
    else:  # detected before the pass gathered them: read the video once more, and keep them
        info = serialize.loads(MediaInfo, store.stage(lesson.id, "probe") or "")
        with store.media_plaintext(lesson.id, "original") as plain:
            descs, thumbs, found = _embed_and_find_bodies(plain, info, tracks, identity.load_embedder(), progress)
        store.put_media_bytes(lesson.id, TRACK_FACES, people.track_faces_to_json(descs, thumbs))
        store.save_stage(lesson.id, BODIES, found.to_json())
    enrolled, speech = enrolled_face(store, lesson.owner_id), _teacher_speech(store, lesson.id)
    result = with_answers(people.find_people(tracks, descs, enrolled, speech), tracks, enrolled, speech,
                          store.not_me(lesson.id))
    kept = {}
    for p in result.people:  # one thumbnail per listed person: the first of its tracks that has one
        tid = next((t for t in p.track_ids if thumbs.get(t)), None)
        if tid is not None:
            kept[p.id] = thumbs[tid]
    store.delete_media(lesson.id, THUMBS)
    if kept:
        store.put_media_bytes(lesson.id, THUMBS, people.thumbnails_to_json(kept))
    store.save_stage(lesson.id, STAGE, result.to_json())


def _track_faces(store: Store, lesson_id: str, tracks) -> tuple[dict, dict] | None:
    """The descriptors and thumbnails the detection pass kept for these tracks, or None (none kept, or kept for
    another detection run: track ids are new each run)."""
    from videocoach.privacy.people import track_faces_from_json

    path = store.media_path(lesson_id, TRACK_FACES)
    if path is None:
        return None
    descs, thumbs = track_faces_from_json(store.vault.read_bytes(path))
    ids = {t.id for t in tracks.tracks}
    return (descs, thumbs) if set(thumbs) == ids and set(descs) <= ids else None


def with_answers(result, tracks, enrolled: Sequence[np.ndarray], teacher_speech, not_me: frozenset[int]):
    """The people found, after the owner's "No, not me" answers (``not_me``: person ids): such a person is never
    shown and never suggested; the next candidate the same way (``people.suggest_teacher`` without a print,
    ``people.suggest_from_print`` with one and nobody shown), or none, is suggested instead."""
    from dataclasses import replace

    from videocoach.privacy import people

    declined = {p.id for p in result.people if p.id in not_me}
    if not declined:
        return result
    hidden = {t for p in result.people if p.id in declined for t in p.track_ids}
    shown = tuple(t for t in result.teacher_track_ids if t not in hidden)
    others = [p for p in result.people if p.id not in declined]
    if not len(enrolled):
        groups = {p.id: [t for t in tracks.tracks if t.id in set(p.track_ids)] for p in others}
        suggestion, by = people.suggest_teacher(others, groups, teacher_speech, tracks.detect_interval_s), "presence"
    elif not shown:
        descs = {t: [np.asarray(v, np.float32) for v in vs] for t, vs in result.descriptors.items()}
        suggestion, by = people.suggest_from_print(others, descs, enrolled), "print"
    else:
        suggestion = None
    return replace(result, teacher_track_ids=shown, suggested_teacher=suggestion,
                   suggested_by=None if suggestion is None else by)


def load_people(store: Store, user: User, lesson_id: str):
    """The people of a lesson, for its owner (owner only: the list names who is shown).  A person the owner said is
    not them is never the suggestion here, even before the people step has taken the answer in."""
    from dataclasses import replace

    from videocoach.privacy.people import PeopleResult

    store.require_access(user, lesson_id, "people.view", owner_only=True)
    text = store.stage(lesson_id, STAGE)
    if not text:
        return None
    result = PeopleResult.from_json(text)
    if result.suggested_teacher in store.not_me(lesson_id):
        result = replace(result, suggested_teacher=None, suggested_by=None)
    return result


def declined_people(store: Store, user: User, lesson_id: str) -> frozenset[int]:
    """The people of a lesson its owner said are not them (owner only)."""
    store.require_access(user, lesson_id, "people.view", owner_only=True)
    return store.not_me(lesson_id)


def not_me(store: Store, user: User, lesson_id: str, person_id: int) -> bool:
    """The owner says "No, not me" about a person of the lesson: that person is hidden and not asked about again in
    this lesson (the answer is kept with the lesson: ``Store.say_not_me``; nothing biometric).  The next candidate,
    if any, is asked about instead.  A person shown as the teacher can be refused only once the lesson's video is
    made (then it is made again without them: True); a coach is refused (audited)."""
    lesson = store.require_access(user, lesson_id, "people.not_me", owner_only=True)
    result = load_people(store, user, lesson_id)
    if result is None:
        raise ValueError("the people of this lesson have not been found yet")
    person = result.person(int(person_id))
    shown = set(person.track_ids) & set(result.teacher_track_ids)
    if shown and not {"render", "audit"} <= set(store.finished_stages(lesson_id)):
        raise ValueError("this lesson's video is still being made: say it once the video is ready")
    store.say_not_me(user, lesson_id, person.id)
    return _find_again(store, lesson, enrolled_face(store, user.id))


def undo_not_me(store: Store, user: User, lesson_id: str, person_id: int) -> bool:
    """The owner takes back a "No, not me": the person may be asked about (or shown, if the face print matches them
    closely) again.  True when the video is made again."""
    lesson = store.require_access(user, lesson_id, "people.not_me_undo", owner_only=True)
    store.undo_not_me(user, lesson_id, int(person_id))
    return _find_again(store, lesson, enrolled_face(store, user.id))


def person_thumbnail(store: Store, user: User, lesson_id: str, person_id: int) -> bytes | None:
    """The PNG thumbnail of one person of a lesson: the owner only (it may show a pupil's face)."""
    from videocoach.privacy.people import thumbnails_from_json

    store.require_access(user, lesson_id, "people.thumbnail", owner_only=True)
    path = store.media_path(lesson_id, THUMBS)
    if path is None:
        return None
    return thumbnails_from_json(store.vault.read_bytes(path)).get(int(person_id))


def _save_print(store: Store, user: User, vectors: Sequence[np.ndarray], source: str) -> None:
    from videocoach.privacy import identity

    if not len(vectors):
        raise ValueError("this person's face could not be identified (too small or always turned away): "
                         "choose another, or enrol from a photo")
    n = len(vectors)
    keep = range(n) if n <= ENROL_MAX else sorted({round(i * (n - 1) / (ENROL_MAX - 1)) for i in range(ENROL_MAX)})
    kept = [vectors[i] for i in keep]  # spread evenly over what is given
    store.save_teacher_face(user, json.dumps({"descriptors": identity.descriptors_to_json(kept)}), source)


def _restart_people(store: Store, lesson_id: str) -> None:
    store.clear_stages(lesson_id, [STAGE, "render", "audit"])
    store.update_lesson(lesson_id, status="processing")
    store.enqueue_job(lesson_id, "rerender", {})


def confirm_teacher(store: Store, user: User, lesson_id: str, person_id: int) -> list[str]:
    """The owner says "this person is me": the lesson is rendered again showing them.  Only the owner, only their own
    face (a teacher enrolls themselves).

    A person who looks like the face print already kept (within ``identity.PHOTO_SUGGEST_MAX_DISTANCE``: the person
    a photo print suggested) adds their own descriptors to it, so later lessons match them closely without asking;
    anyone else replaces it.  The owner's other finished lessons are looked at again with the new print
    (``apply_enrolment``).  Returns the ids of those rendered again besides this one."""
    from videocoach.privacy.people import confirmed_print

    store.require_access(user, lesson_id, "people.confirm", owner_only=True)
    result = load_people(store, user, lesson_id)
    if result is None:
        raise ValueError("the people of this lesson have not been found yet")
    if int(person_id) in store.not_me(lesson_id):
        raise ValueError("you said this person is not you: undo that first")
    mine = result.person_descriptors(int(person_id))
    after = confirmed_print(enrolled_face(store, user.id), mine)
    added = " added to the print" if len(after) > len(mine) else ""
    _save_print(store, user, after, f"lesson {lesson_id[:8]} person {person_id}{added}")
    _restart_people(store, lesson_id)
    return apply_enrolment(store, user)


def enrol_from_photo(store: Store, user: User, image_bytes: bytes) -> list[str]:
    """A teacher's photo of themselves: refused (``identity.PhotoRefused``, nothing stored) unless it shows exactly
    one usable face.  Their own lessons already analysed are looked at again (``apply_enrolment``): those where the
    teacher is now found, and only those, are rendered again; returns their ids."""
    import cv2

    from videocoach.privacy import identity
    from videocoach.privacy.faces import load_detector

    image = cv2.imdecode(np.frombuffer(image_bytes, np.uint8), cv2.IMREAD_COLOR) if image_bytes else None
    if image is None:
        raise identity.PhotoRefused("the photo could not be read as an image (use a JPEG or PNG)")
    vec = identity.enrol_from_photo(image, load_detector(0.3), identity.load_embedder())
    _save_print(store, user, [vec], "photo")  # one print: three scales, mirrored (identity.embed_photo)
    return apply_enrolment(store, user)


def apply_enrolment(store: Store, user: User) -> list[str]:
    """The teacher's face print as it is now, applied to their own lessons whose people step and rendering have
    finished: the people are found again from the stored descriptors (no decode), and a lesson whose teacher's
    tracks change is rendered again (nothing plays meanwhile when a track shown before is no longer the teacher's).
    Lessons still being analysed pick the print up at their own people step.  Returns the ids re-rendered."""
    from videocoach.privacy import people
    from videocoach.privacy.tracking import FaceTracks

    enrolled = enrolled_face(store, user.id)
    changed = []
    for lesson in store.lessons_for(user):
        done = set(store.finished_stages(lesson.id))
        if lesson.owner_id != user.id or not {"faces", STAGE, "render", "audit"} <= done:
            continue
        if _find_again(store, lesson, enrolled):
            changed.append(lesson.id)
    return changed


def _find_again(store: Store, lesson: Lesson, enrolled: Sequence[np.ndarray]) -> bool:
    """The people of a lesson found again from the stored descriptors (no decode), with this face print and the
    owner's answers.  When the teacher's tracks change and the lesson's video is made, it is made again (nothing
    plays meanwhile when a track shown before is no longer the teacher's): True."""
    from videocoach.privacy import people
    from videocoach.privacy.tracking import FaceTracks

    text, faces = store.stage(lesson.id, STAGE), store.stage(lesson.id, "faces")
    if text is None or faces is None:
        return False  # the people step has not run yet: it takes the print and the answers in when it does
    tracks = serialize.loads(FaceTracks, faces)
    before = people.PeopleResult.from_json(text)
    stored = _track_faces(store, lesson.id, tracks)
    descs = stored[0] if stored is not None else {
        t: [np.asarray(v, np.float32) for v in vs] for t, vs in before.descriptors.items()}
    speech = _teacher_speech(store, lesson.id)
    after = with_answers(people.find_people(tracks, descs, enrolled, speech), tracks, enrolled, speech,
                         store.not_me(lesson.id))
    store.save_stage(lesson.id, STAGE, after.to_json())
    if after.teacher_track_ids == before.teacher_track_ids:
        return False
    store.clear_stages(lesson.id, ["render", "audit"])
    if set(before.teacher_track_ids) - set(after.teacher_track_ids):
        store.delete_media(lesson.id, "redacted")  # it shows someone no longer taken for the teacher
    store.update_lesson(lesson.id, status="processing")
    store.enqueue_job(lesson.id, "rerender", {})
    return True


def room_use(store: Store, user: User, lesson_id: str):
    """Figure 9, the visual half: where the teacher went and where pupils sit (``measures.room.RoomUse``), or None.

    The teacher is the tracks shown as the teacher (enrolled, or marked "teacher"); pupils are the other people.
    Where the teacher's face is lost (turned away), their body continues the path (``measures.follow``), when the
    lesson's bodies were found."""
    from videocoach.measures.follow import continue_with_bodies
    from videocoach.measures.room import Sighting, room_use as measure
    from videocoach.privacy.bodies import BodySightings, boxes_at
    from videocoach.privacy.tracking import FaceTracks

    from videocoach.privacy.people import PeopleResult

    store.require_access(user, lesson_id, "room.view")  # positions only: no face, no thumbnail
    text, faces = store.stage(lesson_id, STAGE), store.stage(lesson_id, "faces")
    if text is None or faces is None:
        return None
    result = PeopleResult.from_json(text)
    tracks = serialize.loads(FaceTracks, faces)
    marks = store.face_marks(lesson_id)
    teacher_ids = set(result.teacher_track_ids) | {t for t, label in marks.items() if label == "teacher"}
    if not teacher_ids:
        return None
    w, h = tracks.width, tracks.height

    def sightings(ids) -> list[Sighting]:
        out = []
        for tr in tracks.tracks:
            if tr.id in ids:
                for d in tr.detections:
                    x, y = (d.box[0] + d.box[2]) / 2 / w, (d.box[1] + d.box[3]) / 2 / h
                    out.append(Sighting(d.t_s, min(1.0, max(0.0, x)), min(1.0, max(0.0, y))))
        return out

    pupils = [sightings(set(p.track_ids)) for p in result.people if not set(p.track_ids) & teacher_ids]
    teacher = sightings(teacher_ids)
    bodies_text = store.stage(lesson_id, BODIES)
    if bodies_text is not None:
        found = BodySightings.from_json(bodies_text)
        bw, bh = found.width, found.height
        samples = {t: [(b[0] / bw, b[1] / bh, b[2] / bw, b[3] / bh) for b in boxes]
                   for t, boxes in boxes_at(found).items()}
        teacher += continue_with_bodies(teacher, pupils, samples)
    return measure(teacher, pupils, tracks.duration_s)


def heat_still(store: Store, user: User, lesson_id: str, use) -> bytes | None:
    """A PNG: the heat map of the teacher's positions over a heavily blurred still of the REDACTED rendition (every
    face hidden, then blurred past recognition).  None unless the lesson plays (its audit passed or was cleared)."""
    import cv2

    lesson = store.require_access(user, lesson_id, "room.view")
    if lesson.status != "ready" or store.media_path(lesson_id, "redacted") is None:
        return None
    with store.media_plaintext(lesson_id, "redacted", suffix=".mp4") as plain:
        cap = cv2.VideoCapture(str(plain))
        try:
            n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            cap.set(cv2.CAP_PROP_POS_FRAMES, max(0, n // 2))
            ok, frame = cap.read()
        finally:
            cap.release()
    if not ok or frame is None:
        return None
    h, w = frame.shape[:2]
    small = cv2.resize(frame, (max(8, w // 24), max(8, h // 24)), interpolation=cv2.INTER_AREA)
    still = cv2.GaussianBlur(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), (0, 0), max(w, h) / 80)
    heat = np.asarray(use.heat, dtype=np.float32)
    if heat.max() > 0:
        heat = cv2.resize(heat / heat.max(), (w, h), interpolation=cv2.INTER_LINEAR)
        colour = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET)
        alpha = (0.65 * np.clip(heat * 2, 0, 1))[:, :, None]
        still = (still * (1 - alpha) + colour * alpha).astype(np.uint8)
    ok, png = cv2.imencode(".png", cv2.resize(still, (640, round(640 * h / w))))
    return png.tobytes() if ok else None


__all__ = [
    "both",
    "heat_still",
    "confirm_teacher",
    "enrol_from_photo",
    "apply_enrolment",
    "enrolled_face",
    "load_people",
    "declined_people",
    "not_me",
    "undo_not_me",
    "with_answers",
    "person_thumbnail",
    "room_use",
    "stage_people",
]
