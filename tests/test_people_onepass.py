"""The people step without a decode of its own (issue 19's cost): face descriptors and thumbnails gathered inside the
detection pass equal ``embed_tracks`` reading the video again; with an enrolled teacher the first pass only detects
and one render + audit follows; a photo enrolment reaches the owner's lessons already analysed."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from conftest import SAMPLE_MEDIA, shared
from videocoach.av import media
from videocoach.av.ffmpeg import ffmpeg_binary
from videocoach.privacy import embed_process, identity, people
from videocoach.privacy.onepass import hold_s, redact_in_one_pass
from videocoach.privacy.policy import load_policy
from videocoach.privacy.tracking import Detection

pytestmark = pytest.mark.slow


def test_thinning_keeps_a_bounded_spread_and_the_stream_picks_what_the_count_alone_picks():
    for n in (0, 1, 2, 3, 4, 5, 12, 13, 47, 48, 49, 97, 200, 1000, 4321):
        thin = people._Thinning(people.STREAM_CAP)
        most = 0
        for i in range(n):
            thin.add(lambda i=i: i)
            most = max(most, len(thin.kept))
        assert most <= people.STREAM_CAP  # memory stays bounded however long the track
        got = [i for i, _ in thin.picked(people.PER_TRACK)]
        assert got == people.stream_pick(n) == [x for _i, x in thin.picked(people.PER_TRACK)]
        if n < people.MIN_USABLE:  # one or two usable sightings: no descriptor (never shown, linked by continuity)
            assert got == []
            continue
        assert len(got) == min(n, people.PER_TRACK) and got == sorted(set(got))
        if n <= people.STREAM_CAP:
            assert got == people._pick(n, people.PER_TRACK)  # short tracks: the rule as it always was
        elif n:
            assert got[0] == 0 and got[-1] >= n - n / people.PER_TRACK  # spread over the whole track


def _cut(tmp_path, name, src, *args):
    out = tmp_path / f"{name}.mp4"
    subprocess.run([ffmpeg_binary(), "-v", "error", *args, "-i", str(src), "-pix_fmt", "yuv420p", "-c:v", "libx264",
                    "-preset", "veryfast", "-crf", "14", "-an", str(out)], check=True)
    return out


@pytest.mark.parametrize("clip", ["lesson", "female-and-male"])
def test_descriptors_from_the_detection_pass_equal_embed_tracks(clip, tmp_path):
    """Real faces, real models: the pass's descriptors, track by track, are the ones read back from the video
    (same detections chosen; same pixels), and so are the thumbnails; the detection-only pass finds the same tracks
    as the full one."""
    if clip == "lesson":  # a classroom: many short tracks, small faces (most under 36 px: no descriptor)
        path = _cut(tmp_path, clip, SAMPLE_MEDIA / "lesson.mp4", "-ss", "40", "-t", "10")
    else:  # two people close to the camera, turning their heads (profiles get no descriptor)
        path = _cut(tmp_path, clip, shared("faces", "clips", "head-pose-face-detection-female-and-male.gif"))
    info = media.probe(path)
    policy = load_policy("blur-all-pupils")
    emb = identity.load_embedder()
    child = embed_process.EmbedProcess()  # as the pipeline runs it: descriptors computed in a child process
    gather = people.TrackFaces(None, hold_s(policy, info.fps), process=child)
    try:
        res = redact_in_one_pass(path, info, policy, None, id_base=0, on_detections=gather)
        descs, thumbs = gather.result(res.tracks)
    finally:
        child.close()
    assert res.render is None and res.audit is None
    full = redact_in_one_pass(path, info, policy, tmp_path / "out.mp4", id_base=0, sample_every_s=4.0)
    assert full.tracks.to_json() == res.tracks.to_json()

    ref_descs, ref_thumbs = people.embed_tracks(path, info, res.tracks, emb)
    assert sum(len(v) for v in ref_descs.values()) >= 5, "the clip should give some descriptors"
    assert set(descs) == set(ref_descs)
    worst = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                for tid in ref_descs for a, b in zip(descs[tid], ref_descs[tid], strict=True))
    assert worst <= 1e-5, worst  # the same pixels: equal up to float rounding
    assert thumbs == ref_thumbs
    # the tracks and their results serialise for the people stage
    again = people.track_faces_from_json(people.track_faces_to_json(descs, thumbs))
    assert again[1] == thumbs and all(np.array_equal(a, b) for t in descs for a, b in zip(again[0][t], descs[t]))


def test_a_descriptor_process_that_dies_fails_the_step_and_shows_nothing():
    """Fail closed: the child computing descriptors is killed while a track waits for its descriptors; the result
    raises (the stage fails with a clear message) instead of giving that track none; the next shared child works."""
    import os
    import signal

    from videocoach.privacy.tracking import FaceTrack, FaceTracks

    child = embed_process.shared()
    child.wait_ready()  # started, models loaded
    gather = people.TrackFaces(None, 0.4, process=child)
    image = np.zeros((120, 160, 3), np.uint8)
    dets = tuple(Detection(t, (10.0, 10.0, 60.0, 60.0), 0.9) for t in (0.0, 0.2, 0.4))  # enough for descriptors
    for det in dets:
        gather(det.t_s, image, ((1, det),))
    os.kill(child.pid, signal.SIGKILL)
    tracks = FaceTracks((FaceTrack(1, dets),), 160, 120, 25.0, 25, 5, 0.05, 0.4)
    with pytest.raises(embed_process.EmbedProcessError):
        gather.result(tracks)
    again = embed_process.shared()
    assert again is not child
    try:
        (got,) = again.result(again.submit([(image, (10.0, 10.0, 60.0, 60.0))]))
        want = identity.load_embedder().embed(image, (10.0, 10.0, 60.0, 60.0))  # what the pass's own thread gives
        assert (got is None and want is None) or np.array_equal(got, want)
    finally:
        again.close()


def test_gathering_refuses_tracks_it_was_not_shown():
    from dataclasses import replace

    emb = identity.load_embedder()
    gather = people.TrackFaces(emb, 0.4)
    image = np.zeros((120, 160, 3), np.uint8)
    gather(0.0, image, ((1, Detection(0.0, (10.0, 10.0, 60.0, 60.0), 0.9)),))
    from videocoach.privacy.tracking import FaceTrack, FaceTracks

    tracks = FaceTracks((FaceTrack(1, (Detection(0.0, (10.0, 10.0, 60.0, 60.0), 0.9),)),), 160, 120, 25.0, 25, 5,
                        0.05, 0.4)
    descs, thumbs = gather.result(tracks)
    assert 1 not in descs and thumbs[1][:4] == b"\x89PNG"  # one detection: no descriptor (too few), a thumbnail
    two = people.TrackFaces(emb, 0.4)
    two(0.0, image, ((1, Detection(0.0, (10.0, 10.0, 60.0, 60.0), 0.9)),))
    longer = replace(tracks, tracks=(FaceTrack(1, (Detection(0.0, (10.0, 10.0, 60.0, 60.0), 0.9),
                                                   Detection(0.2, (10.0, 10.0, 60.0, 60.0), 0.9))),))
    with pytest.raises(ValueError):
        two.result(longer)
    three = people.TrackFaces(emb, 0.4)
    three(0.0, image, ((1, Detection(0.0, (10.0, 10.0, 60.0, 60.0), 0.9)),))
    three(5.0, image, ())  # track 1 is over by now
    with pytest.raises(ValueError):
        three(5.2, image, ((1, Detection(5.2, (10.0, 10.0, 60.0, 60.0), 0.9)),))


def test_enrolled_teacher_one_detection_pass_then_one_rendering_and_a_photo_reaches_lessons_analysed_before(
        tmp_path, monkeypatch):
    """Real stages on real recordings.  Before any enrolment: one pass detects, renders, audits and keeps the
    descriptors; the people step reads them (no decode).  A photo enrolment then finds the teacher in the lesson
    analysed before, re-renders that lesson only, and from the stored descriptors.  In a lesson analysed after the
    enrolment, the detection pass neither encodes nor audits; one rendering follows the people step, showing her."""
    import cv2
    from PIL import Image, ImageSequence

    from videocoach import people_steps, pipeline
    from videocoach.config import Settings
    from videocoach.core import serialize
    from videocoach.privacy import onepass
    from videocoach.privacy.redact import FaceTracks, RenderReport
    from videocoach.storage import auth
    from videocoach.storage.store import Store

    store = Store(Settings(data_dir=tmp_path / "data", key_file=tmp_path / "keys" / "media.key"))
    teacher = auth.create_user(store, "rivera", "teacher", "teacher-password", "Ms Rivera")

    def upload(name):
        clip = tmp_path / f"{len(list(tmp_path.glob('*.mp4')))}-{name}.mp4"
        subprocess.run([ffmpeg_binary(), "-v", "error", "-i", str(shared("faces", "clips", name)), "-pix_fmt",
                        "yuv420p", "-c:v", "libx264", "-crf", "12", str(clip)], check=True)
        return pipeline.ingest_file(store, teacher, clip)

    def no_decode(*_a, **_k):
        raise AssertionError("the people step read the video again")

    both, man = upload("head-pose-face-detection-female-and-male.gif"), upload("head-pose-face-detection-male.gif")
    for lesson in (both, man):
        pipeline.run(store, lesson.id, stages=["faces"])
        assert {"faces", "render", "audit"} <= set(store.finished_stages(lesson.id))  # one pass did it all
        assert store.media_path(lesson.id, people_steps.TRACK_FACES) is not None
        with monkeypatch.context() as m:
            m.setattr(people, "embed_tracks", no_decode)
            pipeline.run(store, lesson.id, stages=["people"])
        assert people_steps.load_people(store, teacher, lesson.id).teacher_track_ids == ()
        store.update_lesson(lesson.id, status="ready")
    before = store.stage(both.id, "render")

    with Image.open(shared("faces", "clips", "head-pose-face-detection-female-and-male.gif")) as im:
        still = [np.asarray(f.convert("RGB"))[:, :, ::-1].copy() for f in ImageSequence.Iterator(im)][30]
    photo = np.ascontiguousarray(still[:, : still.shape[1] // 2])  # her half of a still: a photo of her alone
    monkeypatch.setattr(people, "embed_tracks", no_decode)
    monkeypatch.setattr(store, "media_plaintext", no_decode)
    assert people_steps.enrol_from_photo(store, teacher, cv2.imencode(".png", photo)[1].tobytes()) == [both.id]
    monkeypatch.undo()
    found = people_steps.load_people(store, teacher, both.id)
    assert found.enrolled and found.teacher_track_ids
    assert store.stage(both.id, "render") is None and store.lesson(both.id).status == "processing"
    assert [j.kind for j in store.jobs_for_lesson(both.id)] == ["rerender"]
    assert store.stage(man.id, "render") is not None and store.lesson(man.id).status == "ready"
    assert store.jobs_for_lesson(man.id) == [] and people_steps.load_people(store, teacher, man.id).enrolled
    pipeline.run(store, both.id)  # the re-render
    report = serialize.loads(RenderReport, store.stage(both.id, "render"))
    assert set(report.visible_track_ids) == set(found.teacher_track_ids) and store.stage(both.id, "render") != before
    tracks = serialize.loads(FaceTracks, store.stage(both.id, "faces"))
    for t in tracks.tracks:
        if t.id in found.teacher_track_ids:  # only her: on the left of the picture
            assert np.mean([(d.box[0] + d.box[2]) / 2 for d in t.detections]) < tracks.width / 2

    later = upload("head-pose-face-detection-female-and-male.gif")
    monkeypatch.setattr(onepass, "PART_MIN_S", 1.0)  # this short clip in two stretches side by side, as a lesson
    pipeline.run(store, later.id, stages=["faces"])
    assert len({t.id >> 20 for t in serialize.loads(FaceTracks, store.stage(later.id, "faces")).tracks}) == 2
    assert not {"render", "audit"} & set(store.finished_stages(later.id))  # detected only: nothing encoded
    assert store.media_path(later.id, "redacted") is None
    with monkeypatch.context() as m:
        m.setattr(people, "embed_tracks", no_decode)
        pipeline.run(store, later.id, stages=["people"])
    shown = people_steps.load_people(store, teacher, later.id).teacher_track_ids
    assert shown
    pipeline.run(store, later.id)
    report = serialize.loads(RenderReport, store.stage(later.id, "render"))
    assert set(report.visible_track_ids) == set(shown) and store.stage(later.id, "audit") is not None
    assert store.media_path(later.id, "redacted") is not None
