"""People from face tracks (privacy/people.py): linking with space-time constraints, the enrolled teacher shown only
with very high confidence, the suggestion, and the clips test on real recordings."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import shared
from videocoach.privacy import identity, people
from videocoach.privacy.tracking import Detection, FaceTrack, FaceTracks


def track(tid, start, end, x, size=60.0, step=0.2):
    times = np.arange(start, end + 1e-9, step)
    return FaceTrack(tid, tuple(Detection(float(t), (x, 100.0, x + size, 100.0 + size), 0.9) for t in times))


def tracks_of(*ts):
    return FaceTracks(tracks=ts, width=640, height=360, fps=25.0, n_frames=25 * 60, detect_every=5, threshold=0.05,
                      max_lost_s=1.0)


def vec(seed, jitter=0.0, base=None):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=128).astype(np.float32) if base is None else base + jitter * rng.normal(size=128)
    return (v / np.linalg.norm(v) * 0.6).astype(np.float32)  # descriptors have norms of about 0.5-0.7


A, B = vec(1), vec(2)


def near(base, seed, d=0.2):
    """A descriptor at about ``d`` from ``base``."""
    n = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return (base + n / np.linalg.norm(n) * d).astype(np.float32)


def test_one_face_in_two_places_at_once_is_two_people():
    ft = tracks_of(track(1, 0, 10, 50), track(2, 5, 15, 400), track(3, 20, 30, 60))
    descs = {1: [near(A, 1)], 2: [near(A, 2)], 3: [near(A, 3)]}  # 1 and 2 overlap in time: never one person
    groups, ok = people.link_people(ft, descs)
    ids = sorted(sorted(t.id for t in g) for g in groups)
    assert not any(1 in g and 2 in g for g in ids)
    assert len(ids) == 2 and any(3 in g and len(g) == 2 for g in ids)  # the later track joins one of them
    assert all(ok)


def test_a_fragment_without_a_face_continues_the_person_close_by_and_different_faces_stay_apart():
    ft = tracks_of(track(1, 0, 10, 50), track(2, 10.5, 12, 55), track(3, 10.5, 20, 500), track(4, 30, 40, 300))
    descs = {1: [near(A, 1)], 3: [near(B, 3)], 4: [near(B, 4)]}
    groups, _ = people.link_people(ft, descs)
    ids = sorted(sorted(t.id for t in g) for g in groups)
    assert ids == [[1, 2], [3, 4]]


def test_teacher_shown_only_with_high_confidence_and_never_unidentified():
    enrolled = [A]
    descs = {
        1: [near(A, 1, 0.2), near(A, 2, 0.25)],  # clearly her
        2: [near(A, 3, 0.2), near(A, 4, 0.9)],  # one descriptor far off: doubt, hidden
        3: [near(A, 5, 0.48)],  # plausible but not very high confidence: hidden
        4: [],  # cannot be identified: hidden
        5: [B],  # someone else
    }
    assert people.teacher_tracks(descs, enrolled) == (1,)
    assert people.teacher_tracks(descs, []) == ()  # no enrolment: nobody shown
    # two matching tracks at the same time: she is in one place, the other (a worse match) stays hidden
    twins = {1: [near(A, 1, 0.2)], 6: [near(A, 6, 0.3)]}
    assert people.teacher_tracks(twins, enrolled, spans={1: (0.0, 10.0), 6: (5.0, 6.0)}) == (1,)
    assert people.teacher_tracks(twins, enrolled, spans={1: (0.0, 10.0), 6: (11.0, 12.0)}) == (1, 6)


def test_without_enrolment_the_teacher_is_suggested_not_shown():
    ft = tracks_of(track(1, 0, 50, 50), track(2, 0, 20, 400), track(3, 0, 59, 200))
    descs = {1: [near(A, 1)], 2: [near(B, 2)]}  # track 3 is on screen longest but cannot be identified
    res = people.find_people(ft, descs, teacher_speech=[(0.0, 50.0)])
    assert res.teacher_track_ids == () and not res.enrolled
    assert res.suggested_teacher == 1
    again = people.PeopleResult.from_json(res.to_json())
    assert again == res
    assert len(again.person_descriptors(1)) == 1


def test_short_fragments_are_counted_not_listed():
    ft = tracks_of(track(1, 0, 30, 50), track(2, 40, 40.2, 400), track(3, 45, 45, 200))
    res = people.find_people(ft, {1: [near(A, 1)]})
    assert [p.id for p in res.people] == [1] and res.fragments == 2


@pytest.fixture(scope="module")
def woman_enrolled():
    from videocoach.av import media
    from videocoach.privacy import policy, redact

    emb = identity.load_embedder()
    pol = policy.load_named_policy(policy.DEFAULT_POLICY)

    def analyse(name, enrolled=()):
        path = shared("faces", "clips", name)
        info = media.probe(path)
        tracks = redact.detect_faces(path, info, pol)
        descs, thumbs = people.embed_tracks(path, info, tracks, emb)
        return tracks, people.find_people(tracks, descs, enrolled), thumbs

    _t, res, _th = analyse("head-pose-face-detection-female.gif")
    woman = [np.asarray(v, np.float32) for vs in res.descriptors.values() for v in vs]
    return analyse, woman


def test_clips_the_enrolled_woman_is_found_and_the_man_is_not(woman_enrolled):
    analyse, woman = woman_enrolled
    assert len(woman) >= 3
    tracks, res, thumbs = analyse("head-pose-face-detection-female-and-male.gif", woman)
    shown = set(res.teacher_track_ids)
    assert shown, "the woman is shown in the clip with the man"
    xs = {t.id: np.mean([(d.box[0] + d.box[2]) / 2 for d in t.detections]) for t in tracks.tracks}
    assert all(xs[t] < tracks.width / 2 for t in shown)  # she is on the left; the man on the right is never shown
    assert thumbs and all(png[:4] == b"\x89PNG" for png in thumbs.values())
    _tracks, men, _ = analyse("head-pose-face-detection-male.gif", woman)
    assert men.teacher_track_ids == ()


def test_withdrawing_the_face_print_stops_and_rerenders_the_lessons_that_showed_the_teacher(tmp_path):
    import json

    from videocoach import people_steps
    from videocoach.config import Settings
    from videocoach.storage import auth
    from videocoach.storage.store import Store

    store = Store(Settings(data_dir=tmp_path / "data", key_file=tmp_path / "keys" / "media.key"))
    teacher = auth.create_user(store, "rivera", "teacher", "teacher-password", "Ms Rivera")
    other = auth.create_user(store, "lee", "teacher", "teacher-password", "Mr Lee")
    shown = store.create_lesson(teacher, "shown", "a.mp4")
    hidden = store.create_lesson(teacher, "not shown", "b.mp4")
    for lesson, ids in ((shown, [7]), (hidden, [])):
        res = people.PeopleResult((), 0, tuple(ids), None, True)
        store.save_stage(lesson.id, "people", res.to_json())
        store.save_stage(lesson.id, "render", "{}")
        store.put_media_bytes(lesson.id, "redacted", b"rendition")
        store.update_lesson(lesson.id, status="ready")
    store.save_teacher_face(teacher, json.dumps({"descriptors": [[0.1] * 128]}), "test")
    store.save_teacher_face(other, json.dumps({"descriptors": [[0.2] * 128]}), "test")
    assert len(people_steps.enrolled_face(store, teacher.id)) == 1

    assert store.withdraw_teacher_face(teacher) == [shown.id]
    assert store.teacher_face(teacher.id) is None and store.teacher_face(other.id) is not None
    assert store.lesson(shown.id).status == "processing"
    assert store.stage(shown.id, "people") is None and store.stage(shown.id, "render") is None
    assert store.media_path(shown.id, "redacted") is None  # nothing plays with the teacher shown meanwhile
    assert [j.kind for j in store.jobs_for_lesson(shown.id)] == ["rerender"]
    assert store.lesson(hidden.id).status == "ready" and store.jobs_for_lesson(hidden.id) == []


def test_thumbnails_and_the_people_list_are_for_the_owner_only(tmp_path):
    from videocoach import people_steps
    from videocoach.config import Settings
    from videocoach.storage import auth
    from videocoach.storage.records import AccessDenied
    from videocoach.storage.store import Store

    store = Store(Settings(data_dir=tmp_path / "data", key_file=tmp_path / "keys" / "media.key"))
    teacher = auth.create_user(store, "rivera", "teacher", "teacher-password", "Ms Rivera")
    coach = auth.create_user(store, "okafor", "coach", "coach-password", "Mr Okafor")
    lesson = store.create_lesson(teacher, "lesson", "a.mp4")
    store.share(teacher, lesson.id, coach)  # a coach the lesson is shared with still gets no faces
    store.save_stage(lesson.id, "people", people.PeopleResult((), 0, (), None, False).to_json())
    store.put_media_bytes(lesson.id, "people_thumbs", people.thumbnails_to_json({3: b"\x89PNGfake"}))
    assert people_steps.person_thumbnail(store, teacher, lesson.id, 3) == b"\x89PNGfake"
    for who in (coach,):
        with pytest.raises(AccessDenied):
            people_steps.person_thumbnail(store, who, lesson.id, 3)
        with pytest.raises(AccessDenied):
            people_steps.load_people(store, who, lesson.id)


def test_pipeline_people_stage_shows_the_enrolled_teacher_without_marking(tmp_path):
    """Real stages on real recordings: a first lesson suggests the teacher and shows nobody; the owner confirms;
    in a second recording the people stage finds her tracks, the render leaves exactly those visible, the man hidden."""
    import subprocess

    from videocoach import people_steps, pipeline
    from videocoach.av.ffmpeg import ffmpeg_binary
    from videocoach.config import Settings
    from videocoach.core import serialize
    from videocoach.privacy.redact import FaceTracks, RenderReport
    from videocoach.storage import auth
    from videocoach.storage.store import Store

    store = Store(Settings(data_dir=tmp_path / "data", key_file=tmp_path / "keys" / "media.key"))
    teacher = auth.create_user(store, "rivera", "teacher", "teacher-password", "Ms Rivera")

    def upload(name):
        clip = tmp_path / f"{name}.mp4"
        subprocess.run([ffmpeg_binary(), "-v", "error", "-i", str(shared("faces", "clips", name)), "-pix_fmt",
                        "yuv420p", "-c:v", "libx264", "-crf", "12", str(clip)], check=True)  # near the GIF's own quality
        lesson = pipeline.ingest_file(store, teacher, clip)
        pipeline.run(store, lesson.id, stages=["faces", "people", "render"])
        return lesson, people_steps.load_people(store, teacher, lesson.id)

    first, found = upload("head-pose-face-detection-female.gif")
    assert not found.enrolled and found.teacher_track_ids == () and found.suggested_teacher is not None
    assert serialize.loads(RenderReport, store.stage(first.id, "render")).visible_track_ids == ()  # nothing shown
    people_steps.confirm_teacher(store, teacher, first.id, found.suggested_teacher)
    assert store.stage(first.id, "render") is None and store.jobs_for_lesson(first.id)  # rendered again, showing her

    lesson, result = upload("head-pose-face-detection-female-and-male.gif")
    tracks = serialize.loads(FaceTracks, store.stage(lesson.id, "faces"))
    report = serialize.loads(RenderReport, store.stage(lesson.id, "render"))
    assert result.enrolled and result.teacher_track_ids
    assert set(report.visible_track_ids) == set(result.teacher_track_ids)
    for t in tracks.tracks:
        if t.id in result.teacher_track_ids:  # only her: on the left of the picture
            assert np.mean([(d.box[0] + d.box[2]) / 2 for d in t.detections]) < tracks.width / 2
    assert store.face_marks(lesson.id) == {}  # nothing was marked by hand


def _link_pairwise(tracks, descs, link_max=identity.LINK_MAX_DISTANCE):
    """The linking rule spelt out by comparing each track with every group (quadratic), as it was first written."""
    import math

    def overlap(g, tr):
        return any(x.start_s <= tr.end_s and tr.start_s <= x.end_s for x in g)

    groups, gdesc = [], []
    for tr in sorted(tracks.tracks, key=lambda t: (t.start_s, t.id)):
        mine = descs.get(tr.id, [])
        best, best_d = None, math.inf
        for gi, g in enumerate(groups):
            if overlap(g, tr):
                continue
            if mine:
                if not gdesc[gi]:
                    continue
                dist = identity.distance(people.centroid(mine), people.centroid(gdesc[gi]))
                ok = dist <= link_max
            else:
                last = max(g, key=lambda t: t.end_s)
                gap = tr.start_s - last.end_s
                if not 0 < gap <= people.CONTINUITY_GAP_S + tracks.detect_interval_s:
                    continue
                b, a = tr.detections[0].box, last.detections[-1].box
                size = max(b[2] - b[0], 1.0)
                dist = math.hypot((b[0] + b[2] - a[0] - a[2]) / 2, (b[1] + b[3] - a[1] - a[3]) / 2) / size
                ok = dist <= people.CONTINUITY_RADIUS
            if ok and dist < best_d:
                best, best_d = gi, dist
        if best is None:
            groups.append([tr])
            gdesc.append(list(mine))
        else:
            groups[best].append(tr)
            gdesc[best].extend(mine)
    return [[t.id for t in g] for g in groups], [bool(d) for d in gdesc]


def test_linking_in_one_sweep_gives_the_groups_of_comparing_every_group():
    """link_people keeps per group its latest end and centroid (linear in the tracks: a 50-minute lesson has tens of
    thousands); on random classrooms it gives exactly the groups of the rule applied to every group."""
    import random

    from videocoach.privacy.tracking import Detection, FaceTrack, FaceTracks

    rng = random.Random(7)
    linked_both_ways = [0, 0]
    for trial in range(30):
        faces = [np.random.default_rng(trial * 10 + k).normal(size=128).astype(np.float32) * 0.05 for k in range(5)]
        trs, descs = [], {}
        for i in range(rng.randint(5, 300)):
            s, n = round(rng.uniform(0, 90), 1), rng.randint(1, 6)
            x, y, sz = rng.uniform(0, 1200), rng.uniform(0, 650), rng.uniform(20, 80)
            trs.append(FaceTrack(i, tuple(Detection(round(s + 0.2 * k, 2), (x + 3 * k, y, x + 3 * k + sz, y + sz), 0.5)
                                          for k in range(n))))
            if rng.random() < 0.3:
                noise = np.random.default_rng(i + 1000 * trial)
                descs[i] = [faces[rng.randrange(5)] + noise.normal(size=128).astype(np.float32) * 0.02
                            for _ in range(rng.randint(1, 3))]
        ft = FaceTracks(tuple(trs), 1280, 720, 25.0, 25, 5, 0.05, 0.4)
        groups, identified = people.link_people(ft, descs)
        want = _link_pairwise(ft, descs)
        assert ([[t.id for t in g] for g in groups], identified) == want, trial
        linked_both_ways[0] += sum(1 for g in groups if len(g) > 1 and any(t.id in descs for t in g))
        linked_both_ways[1] += sum(1 for g in groups if len(g) > 1 and not any(t.id in descs for t in g))
    assert min(linked_both_ways) > 10, linked_both_ways  # both rules (faces alike, continuity) were exercised
