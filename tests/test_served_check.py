"""The served-frames check (privacy/served_check.py) on a real clip: two real people turning their heads
(head-pose-face-detection-female-and-male.gif, 56 frames), rendered by the product's one-pass redaction.

- every face hidden: zero frames with a visible face, every frame checked;
- one person's face left un-hidden by the render but not allowed to show: caught in (nearly) every frame;
  the same file with that person allowed (the teacher's track): zero again;
- a truncated or corrupt rendition fails closed (an error, never a pass).
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from conftest import shared
from videocoach.av import media
from videocoach.privacy.faces import load_detector
from videocoach.privacy.onepass import redact_in_one_pass
from videocoach.privacy import second_opinion
from videocoach.privacy.policy import load_policy
from videocoach.privacy.served_check import ServedCheckError, check_served, hidden_mask

pytestmark = pytest.mark.slow  # ~2 min on the shared 2 cores (two renders, five checks of 56 frames)

CLIP = ("faces", "clips", "head-pose-face-detection-female-and-male.gif")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    clip = shared(*CLIP)
    if not clip.is_file():
        pytest.skip(f"reference clip missing: {clip}")
    root = tmp_path_factory.mktemp("served")
    info = media.probe(clip)
    pol = load_policy("blur-all-pupils")
    hidden = redact_in_one_pass(clip, info, pol, root / "hidden.mp4", id_base=0)
    tracks = hidden.tracks
    # the person seen longest (the woman on the left) is left visible by the render: a planted un-hidden face
    person = max(tracks.tracks, key=lambda t: len(t.detections))
    shown = redact_in_one_pass(clip, info, pol, root / "shown.mp4", tracks=tracks,
                               visible_track_ids=frozenset({person.id}))
    return dict(root=root, pol=pol, tracks=tracks, person=person, hidden=hidden, shown=shown,
                det=load_detector(0.05), opinion=second_opinion.load())


def test_every_face_hidden_gives_zero(served):
    r = check_served(served["root"] / "hidden.mp4", served["tracks"], served["pol"],
                     expected_frames=served["hidden"].render.frames, detectors=[served["det"]])
    assert r.frames_checked == r.frames_expected == served["hidden"].render.frames == 56
    assert r.frames_with_visible_face == 0 and r.hit_count == 0 and r.passed, r.hits
    # the detector did fire at 0.05 on the mosaics: they were explained by verified hidden pixels
    assert r.detections > 0 and r.on_hidden + r.gone_when_blanked == r.detections


def test_planted_unhidden_face_is_caught_and_allowed_face_is_not(served):
    seen = []
    r = check_served(served["root"] / "shown.mp4", served["tracks"], served["pol"],
                     expected_frames=served["shown"].render.frames, detectors=[served["det"]],
                     on_hit=lambda image, hit: seen.append((image.shape, hit)),
                     second_opinion=served["opinion"].served_face_like)
    assert not r.passed and r.second_opinion
    assert r.frames_with_visible_face >= 0.9 * r.frames_checked, r.frames_with_visible_face
    # the served check's test (face-like unless surely not a face) keeps her in every frame where she is caught
    assert r.frames_with_face_like_hit == r.frames_with_visible_face, (r.frames_with_face_like_hit, r.hits)
    assert seen and seen[0][0] == (270, 480, 3) and len(seen) == r.hit_count
    # every hit lies on the person left visible, at the time of one of her detections (within her track's span)
    p = served["person"]
    assert all(p.start_s - 1.0 <= h.t_s <= p.end_s + 1.0 for h in r.hits)
    allowed = check_served(served["root"] / "shown.mp4", served["tracks"], served["pol"],
                           visible_track_ids=frozenset({p.id}), expected_frames=served["shown"].render.frames,
                           detectors=[served["det"]])
    assert allowed.passed and allowed.on_shown >= 0.9 * allowed.frames_checked


def test_a_face_the_render_missed_stays_a_hit_when_the_original_is_looked_at(served):
    """With the original recording given, a hit is dropped only where the original has no face: the woman left
    un-hidden is in the original at the same spot, so every frame she was caught in stays a hit, each with her
    score there."""
    kw = dict(expected_frames=served["shown"].render.frames, detectors=[served["det"]])
    strict = check_served(served["root"] / "shown.mp4", served["tracks"], served["pol"], **kw)
    r = check_served(served["root"] / "shown.mp4", served["tracks"], served["pol"], original=shared(*CLIP), **kw)
    assert r.original_checked and not r.passed
    assert r.frames_with_visible_face == strict.frames_with_visible_face == r.frames_with_detection_left
    assert r.hit_count == strict.hit_count and r.no_face_in_original == 0
    assert all(h.original_score is not None and h.original_score >= r.threshold
               for h in r.hits), [h.original_score for h in r.hits]
    # every face hidden: still zero, nothing left to look up
    hidden = check_served(served["root"] / "hidden.mp4", served["tracks"], served["pol"], original=shared(*CLIP),
                          expected_frames=served["hidden"].render.frames, detectors=[served["det"]])
    assert hidden.passed and hidden.hit_count == hidden.no_face_in_original == 0


def test_a_face_half_hidden_by_a_lagging_box_stays_a_hit_when_the_original_is_looked_at(served, tmp_path):
    """The render's boxes lag the faces by most of a face width (as a held box lags a turning head): part of each
    face is served.  Looking hits up in the original must not explain them away: the original's face there is only
    partly hidden, so it counts with its own score."""
    from videocoach.privacy.tracking import Detection

    def lag(d):
        x1, y1, x2, y2 = d.box
        dx = 0.75 * (x2 - x1)
        return replace(d, box=(x1 + dx, y1, x2 + dx, y2))

    tracks = served["tracks"]
    lagged = replace(tracks, tracks=tuple(replace(t, detections=tuple(lag(d) for d in t.detections))
                                          for t in tracks.tracks))
    assert all(isinstance(d, Detection) for t in lagged.tracks for d in t.detections)
    out = tmp_path / "lagged.mp4"
    res = redact_in_one_pass(shared(*CLIP), media.probe(shared(*CLIP)), served["pol"], out, tracks=lagged)
    kw = dict(expected_frames=res.render.frames, detectors=[served["det"]])
    strict = check_served(out, lagged, served["pol"], **kw)
    r = check_served(out, lagged, served["pol"], original=shared(*CLIP), **kw)
    assert strict.frames_with_visible_face >= 0.5 * strict.frames_checked, strict.frames_with_visible_face
    assert r.frames_with_visible_face >= 0.95 * strict.frames_with_visible_face, (r.frames_with_visible_face,
                                                                                  strict.frames_with_visible_face)
    assert all(h.original_score >= r.threshold for h in r.hits)


def test_the_original_must_decode_in_step(served, tmp_path):
    """An original shorter than the rendition is an error, never a pass; another picture explains nothing."""
    import subprocess

    short = tmp_path / "short.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(shared(*CLIP)), "-frames:v", "20", "-an", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", str(short)], check=True)
    with pytest.raises(ServedCheckError, match="in step"):
        check_served(served["root"] / "shown.mp4", served["tracks"], served["pol"], original=short,
                     expected_frames=served["shown"].render.frames, detectors=[served["det"]])
    # another picture of the same length (the clip mirrored): where it shows no face, its pixels are not the
    # served ones either, so nothing is explained away
    mirrored = tmp_path / "mirrored.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(shared(*CLIP)), "-vf", "hflip", "-an", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", str(mirrored)], check=True)
    kw = dict(expected_frames=served["shown"].render.frames, detectors=[served["det"]])
    strict = check_served(served["root"] / "shown.mp4", served["tracks"], served["pol"], **kw)
    r = check_served(served["root"] / "shown.mp4", served["tracks"], served["pol"], original=mirrored, **kw)
    assert r.no_face_in_original == 0 and r.hit_count == strict.hit_count > 0


def _lesson_frame(t_s: float) -> np.ndarray:
    """One frame of the sample lesson (the original: the hands are not hidden), cut at run time."""
    import subprocess

    from conftest import SAMPLE_MEDIA

    raw = subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{t_s:g}", "-i", str(SAMPLE_MEDIA / "lesson.mp4"),
                          "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "bgr24", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(720, 1280, 3)


def test_weak_real_face_stays_face_like(served):
    """A WIDER face shrunk to 19x22 px, planted into a lesson frame: the 0.05 detector finds it weakly; the served
    check's test keeps it face-like (it must keep >= 99 % of such faces)."""
    face = cv2.imread(str(shared("faces", "wider_val",
                                 "12--Group/12_Group_Team_Organized_Group_12_Group_Team_Organized_Group_12_244.jpg")))
    if face is None:
        pytest.skip("WIDER image missing")
    planted = _lesson_frame(20).copy()
    planted[300:322, 500:519] = cv2.resize(face[134:250, 146:284], (19, 22), interpolation=cv2.INTER_AREA)
    found = [d for d in served["det"].detect(planted)
             if 500 <= (d[0] + d[2]) / 2 < 519 and 300 <= (d[1] + d[3]) / 2 < 322]
    assert found and min(d[4] for d in found) < second_opinion.KEEP_SCORE, found
    assert all(served["opinion"].served_face_like(planted, d) for d in found), found


@pytest.mark.xfail(strict=True, reason="a known limit of the second opinion: at >= 99 % recall on weak real faces, "
                                       "neither CenterFace close up nor dlib's HOG tells the clasped hands from a face "
                                       "(eval/eval_strict_face.py); the lookup in the original tells them apart")
def test_clasped_hands_are_not_face_like(served):
    """A pupil's clasped hands on the desk (the sample lesson at 0:35, left; the face above them is hidden in the
    rendition): the detector at 0.05 fires on them weakly; the served check's test should be sure they are no face."""
    frame = _lesson_frame(35)
    hands = [d for d in served["det"].detect(frame)
             if 330 <= (d[0] + d[2]) / 2 < 370 and 440 <= (d[1] + d[3]) / 2 < 475]
    assert hands and all(d[4] < second_opinion.KEEP_SCORE for d in hands), hands
    assert not any(served["opinion"].served_face_like(frame, d) for d in hands), hands


def test_hiding_a_face_makes_a_face_of_the_hands_below_it_and_the_second_look_hides_them(served, monkeypatch):
    """Why the served check found the clasped hands although the render detects at the same 0.05: in the original
    frame they score about 0.02; with the pupil's face above them hidden (the render's mosaic), 0.07-0.12.  The
    detection pass's second look (schedule.LookAgain, opt-in) hides the pass's faces and looks again in crops
    around them: it adds the hands, and everything >= 0.05 that a look at the whole hidden frame adds."""
    from dataclasses import replace

    from videocoach.privacy.redact import hide_rect, look_again
    from videocoach.privacy.tracking import clip_box, enlarge

    monkeypatch.setenv("VIDEOCOACH_LOOK_AGAIN", "on")
    frame, pol, det = _lesson_frame(30), served["pol"], served["det"]

    def on_hands(dets):
        return [d for d in dets if 330 <= (d[0] + d[2]) / 2 < 380 and 430 <= (d[1] + d[3]) / 2 < 480]

    first = det.detect(frame)
    assert not on_hands(first), on_hands(first)  # the first look does not see them
    hidden = frame.copy()
    for d in first:
        hide_rect(hidden, clip_box(enlarge(d[:4], pol.box_scale), 1280, 720), pol)
    assert on_hands(det.detect(hidden)), "hidden context no longer makes the hands face-like: re-check this test"
    look = look_again(pol)
    assert look.rounds >= 1 and not look.whole_frame
    both = look(det, frame, first)
    assert len(both) > len(first) and on_hands(both[len(first):])
    assert np.array_equal(both[: len(first)], first)  # the first look's faces stay as they were
    assert min(d[4] for d in both[len(first):]) >= 0.6 * pol.threshold - 1e-6
    # fail closed against the whole-frame look: each of its additions that the served check would count (>= 0.05)
    # is centred in a box the crops' look hides
    whole = replace(look, whole_frame=True)(det, frame, first)
    hides = [enlarge(d[:4], pol.box_scale) for d in both]
    strong = [d for d in whole[len(first):] if d[4] >= pol.threshold]
    assert strong and all(any(b[0] <= (d[0] + d[2]) / 2 < b[2] and b[1] <= (d[1] + d[3]) / 2 < b[3] for b in hides)
                          for d in strong), strong


def _served_lesson_slice(tmp_path, start_s: float = 30, seconds: float = 4, with_original: bool = False):
    """``seconds`` of the sample lesson from ``start_s`` (0:30-0:34: clasped hands below a hidden face, a neckline, a
    table edge), detected and rendered by the one pass with every face hidden and the policy's default hiding, then
    the served check on every frame (the look as the environment says; the hits looked up in the original slice
    when ``with_original``)."""
    import subprocess

    from conftest import SAMPLE_MEDIA

    clip = tmp_path / "lesson_slice.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{start_s:g}", "-i", str(SAMPLE_MEDIA / "lesson.mp4"), "-t",
                    f"{seconds:g}", "-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt",
                    "yuv420p", str(clip)], check=True)
    pol = load_policy("blur-all-pupils")
    res = redact_in_one_pass(clip, media.probe(clip), pol, tmp_path / "served.mp4", id_base=0)
    r = check_served(tmp_path / "served.mp4", res.tracks, pol, expected_frames=res.render.frames,
                     detectors=[load_detector(0.05)], original=clip if with_original else None)
    assert r.frames_checked == res.render.frames == round(25 * seconds)
    return pol, res, r


def test_sample_lesson_served_frames_at_zero_with_the_second_look(tmp_path, monkeypatch):
    """0:30-0:34 with the second look on (``VIDEOCOACH_LOOK_AGAIN=on``, crops): zero, and the clasped hands are
    under a hidden box."""
    from videocoach.privacy.tracking import HideSchedule

    monkeypatch.setenv("VIDEOCOACH_LOOK_AGAIN", "on")
    pol, res, r = _served_lesson_slice(tmp_path)
    assert r.detections > 0 and r.frames_with_visible_face == 0 and r.passed, r.hits[:10]
    hidden = HideSchedule(res.tracks, box_scale=pol.box_scale, hold_s=pol.hold_s)
    on_hands = sum(any(x1 <= 355 < x2 and y1 <= 455 < y2 for x1, y1, x2, y2 in hidden.boxes_at(i / 25))
                   for i in range(100))
    assert on_hands >= 90, on_hands


def test_sample_lesson_served_frames_at_zero_by_default(tmp_path, monkeypatch):
    """The same 4 s with the defaults (mosaic, second look off), the hits looked up in the original: no frame with a
    visible face.  The detector at 0.05 does fire beside the mosaics (a pupil's chest and clasped hands under a hidden
    face): the original has no face there (about 0.02) and the served pixels there are the render's, so the check
    counts them apart."""
    monkeypatch.setenv("VIDEOCOACH_LOOK_AGAIN", "off")
    _pol, _res, r = _served_lesson_slice(tmp_path, with_original=True)
    assert r.detections > 0 and r.original_checked  # the mosaics are seen at 0.05: the check does look
    assert r.frames_with_detection_left > 0 and r.no_face_in_original > 0  # the hiding's patterns are there ...
    assert r.frames_with_visible_face == 0 and r.passed, (r.frames_with_visible_face, r.hits[:10])  # ... and told apart


def test_schedule_alone_is_not_trusted(served):
    """In the rendition above the woman's box is in the hide schedule, yet she is caught: her pixels are not verified
    hidden (the real face is no mosaic); the rectangles the render did hide are verified."""
    from videocoach.privacy.tracking import HideSchedule

    box = served["person"].detections[0].box
    rect = tuple(int(v) for v in box)
    assert not hidden_mask(_first_frame(served["root"] / "shown.mp4"), [rect], served["pol"]).any()
    pol = served["pol"]
    rects = HideSchedule(served["tracks"], box_scale=pol.box_scale, hold_s=pol.hold_s).boxes_at(0.0)
    mask = hidden_mask(_first_frame(served["root"] / "hidden.mp4"), rects, pol)
    assert rects and all(mask[y1:y2, x1:x2].mean() > 0.5 for x1, y1, x2, y2 in rects)


def _first_frame(path):
    from videocoach.av.video_io import FrameReader

    with FrameReader(path, media.probe(path)) as reader:
        return next(iter(reader)).image


def test_truncated_rendition_fails_closed(served, tmp_path):
    data = (served["root"] / "hidden.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])  # +faststart: the index is whole, half the frames are gone
    with pytest.raises(ServedCheckError):
        check_served(cut, served["tracks"], served["pol"], detectors=[served["det"]])
    with pytest.raises(ServedCheckError):  # the render's own frame count is the bar when it is known
        check_served(cut, served["tracks"], served["pol"], expected_frames=56, detectors=[served["det"]])


def test_corrupt_or_missing_rendition_fails_closed(served, tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(1).integers(0, 256, 200_000, dtype=np.uint8).tobytes())
    with pytest.raises(ServedCheckError):
        check_served(junk, served["tracks"], served["pol"], detectors=[served["det"]])
    with pytest.raises(ServedCheckError):
        check_served(tmp_path / "absent.mp4", served["tracks"], served["pol"], detectors=[served["det"]])
    # the middle of the file overwritten: frames that cannot be decoded are missing frames
    data = bytearray((served["root"] / "hidden.mp4").read_bytes())
    mid = len(data) // 3
    data[mid: mid + len(data) // 3] = bytes(len(data) // 3)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(data))
    with pytest.raises(ServedCheckError):
        check_served(broken, served["tracks"], served["pol"], expected_frames=56, detectors=[served["det"]])


def test_tracks_of_another_picture_or_a_less_sensitive_detector_are_refused(served):
    other = replace(served["tracks"], width=640, height=360)
    with pytest.raises(ServedCheckError):
        check_served(served["root"] / "hidden.mp4", other, served["pol"], detectors=[served["det"]])
    with pytest.raises(ServedCheckError):
        check_served(served["root"] / "hidden.mp4", served["tracks"], served["pol"], detectors=[load_detector(0.3)])


def test_all_consented_policy_is_skipped_not_passed(served):
    pol = load_policy("all-consented", consent_record="9B forms")
    r = check_served(served["root"] / "hidden.mp4", served["tracks"], pol, detectors=[served["det"]])
    assert r.skipped_reason and not r.passed and r.frames_checked == 0


def test_hidden_mask_on_a_mosaic_and_on_a_photo():
    img = cv2.imread(str(shared("faces", "wider_val",
                                "12--Group/12_Group_Team_Organized_Group_12_Group_Team_Organized_Group_12_244.jpg")))
    if img is None:
        pytest.skip("WIDER image missing")
    pol = load_policy("blur-all-pupils")
    rect = (146, 134, 146 + 138, 134 + 116)  # a labelled face
    assert not hidden_mask(img, [rect], pol).any()
    from videocoach.privacy.redact import hide_rect

    hide_rect(img, rect, pol)
    mask = hidden_mask(img, [rect], pol)
    assert mask[rect[1]:rect[3], rect[0]:rect[2]].all() and mask.sum() == 138 * 116


def test_cli_check_served_on_a_stored_lesson(tmp_path, monkeypatch, capsys):
    """`videocoach check-served LESSON`: 0 on the lesson as rendered (every face hidden); 1 with the hits' times
    when the saved tracks hid nothing; 2 with one line when there is no rendition."""
    import subprocess

    from videocoach import cli, pipeline
    from videocoach.config import Settings
    from videocoach.core import serialize
    from videocoach.privacy.tracking import FaceTracks
    from videocoach.storage.store import Store

    # four seated people (no sound: no audio stages).  Not the sample lesson: its pupils' clasped hands stay
    # "possibly a face" for the served check's test, which keeps >= 99 % of weak real faces (issue 19)
    clip = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(shared("faces", "clips", "classroom.gif")), "-an",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-r", "25", str(clip)], check=True)
    monkeypatch.setenv("VIDEOCOACH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("VIDEOCOACH_KEY_FILE", str(tmp_path / "key"))
    store = Store(Settings.from_env())
    owner = store.add_user("t", "teacher", None)
    lesson = pipeline.ingest_file(store, owner, clip, policy_name="blur-all-pupils")
    assert cli.main(["-q", "check-served", lesson.id[:8]]) == 2
    assert "no redacted video yet" in capsys.readouterr().err
    pipeline.run(store, lesson.id, stages=["faces", "people", "render"])
    assert cli.main(["-q", "check-served", lesson.id[:8]]) == 0
    out = capsys.readouterr().out
    assert "75 frames checked" in out and ": 0 with a possibly visible face" in out, out
    assert "not faces in the original recording" in out, out  # the original is still kept: the hits were looked up in it
    info = pipeline.load_info(store, lesson.id)
    nothing = FaceTracks((), info.width, info.height, info.fps, 10_000, 1, 0.05, 1.0)
    store.save_stage(lesson.id, "faces", serialize.dumps(nothing))
    pipeline.rerender(store, lesson.id)  # the saved tracks hide nothing: pupils' faces are served
    assert cli.main(["-q", "check-served", lesson.id[:8]]) == 1
    out = capsys.readouterr().out
    assert "75 frames checked" in out and ": 0 with" not in out and "  0:0" in out, out
    store.close()
