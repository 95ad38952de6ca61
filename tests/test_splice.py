"""Re-rendering only what a mark changes (issue 19, item 6): a pupil shown for 3 s of a 20 s clip re-encodes only
the GOPs around those 3 s, the rest is the previous rendition's packets copied; the result matches a full re-render.
Real WIDER face crops, real CenterFace, real ffmpeg; checks on the decoded files."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import shared
from videocoach.av import media
from videocoach.core.digest import file_sha256
from videocoach.av.ffmpeg import ffmpeg_binary
from videocoach.privacy import splice
from videocoach.privacy.onepass import redact_in_one_pass
from videocoach.privacy.policy import load_policy
from videocoach.privacy.redact import KEYFRAME_S, detect_faces

pytestmark = pytest.mark.slow

W, H, FPS, SECONDS = 480, 360, 25, 20
N = FPS * SECONDS
BRIEF = (8 * FPS, 11 * FPS)  # the pupil who is marked is in the picture for these frames only
SOURCE = "12--Group/12_Group_Team_Organized_Group_12_Group_Team_Organized_Group_12_244.jpg"
SOURCE_FACES = [(398, 68, 128, 156), (614, 104, 130, 210)]  # x y w h from label.txt
SEATED_AT, BRIEF_AT = (40, 200), (300, 60)  # patch top-left corners
EVERY = 1.0  # audit sample every second


def _patches() -> list[tuple[np.ndarray, tuple[int, int, int, int]]]:
    img = cv2.imread(str(shared("faces", "wider_val", SOURCE)))
    out = []
    for x, y, w, h in SOURCE_FACES:
        s, m = 72 / h, 0.35
        x1, y1 = max(0, int(x - m * w)), max(0, int(y - m * h))
        x2, y2 = min(img.shape[1], int(x + w + m * w)), min(img.shape[0], int(y + h + m * h))
        patch = cv2.resize(img[y1:y2, x1:x2], None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        out.append((patch, (round((x - x1) * s), round((y - y1) * s), round(w * s), round(h * s))))
    return out


def _frames():
    rng = np.random.default_rng(3)
    bg = cv2.GaussianBlur(cv2.resize(rng.integers(0, 255, (H // 8, W // 8, 3), dtype=np.uint8), (W, H)), (0, 0), 3)
    (seated, _), (brief, _) = _patches()
    for i in range(N):
        frame = bg.copy()
        x, y = SEATED_AT[0] + i % 7, SEATED_AT[1]  # a little movement
        frame[y:y + seated.shape[0], x:x + seated.shape[1]] = seated
        if BRIEF[0] <= i < BRIEF[1]:
            x, y = BRIEF_AT
            frame[y:y + brief.shape[0], x:x + brief.shape[1]] = brief
        yield frame


def _brief_face() -> tuple[int, int, int, int]:
    _, (fx, fy, fw, fh) = _patches()[1]
    return BRIEF_AT[0] + fx, BRIEF_AT[1] + fy, BRIEF_AT[0] + fx + fw, BRIEF_AT[1] + fy + fh


def _decode(path: Path) -> np.ndarray:
    info = media.probe(path)
    argv = [ffmpeg_binary(), "-v", "error", *media.input_args(path, info), "-map", "0:v:0",
            "-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:1"]
    raw = subprocess.run(argv, capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, H, W, 3)


def _packets(path: Path) -> list[tuple[int, bool, bytes]]:
    import av

    with av.open(str(path)) as box:
        return [(p.pts, p.is_keyframe, bytes(p)) for p in box.demux(box.streams.video[0]) if p.size]


def _detail_corr(a: np.ndarray, b: np.ndarray) -> float:
    def detail(x):
        g = cv2.cvtColor(x, cv2.COLOR_BGR2GRAY).astype(np.float32)
        return (g - cv2.blur(g, (7, 7))).ravel()

    da, db = detail(a), detail(b)
    da, db = da - da.mean(), db - db.mean()
    return float((da * db).sum() / np.sqrt((da * da).sum() * (db * db).sum()))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    root = tmp_path_factory.mktemp("splice")
    video = root / "lesson.mp4"
    argv = [ffmpeg_binary(), "-hide_banner", "-v", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{W}x{H}", "-framerate", str(FPS), "-i", "pipe:0",
            "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={SECONDS}",
            "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p", "-c:a", "aac",
            "-shortest", str(video)]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    for frame in _frames():
        proc.stdin.write(frame.tobytes())
    proc.stdin.close()
    assert proc.wait() == 0, proc.stderr.read().decode()
    info = media.probe(video)
    policy = load_policy("blur-all-pupils")
    tracks = detect_faces(video, info, policy, id_base=0)
    x1, y1, x2, y2 = _brief_face()
    brief = frozenset(t.id for t in tracks.tracks if all(
        x1 <= (d.box[0] + d.box[2]) / 2 < x2 and y1 <= (d.box[1] + d.box[3]) / 2 < y2 for d in t.detections))
    assert brief and all(BRIEF[0] / FPS - 0.3 <= t.start_s and t.end_s <= BRIEF[1] / FPS
                         for t in tracks.tracks if t.id in brief)
    # the previous rendition: everyone hidden
    old = root / "old.mp4"
    before = redact_in_one_pass(video, info, policy, old, tracks=tracks, sample_every_s=EVERY)
    was = splice.rendition_of(policy, tracks, video, old, frozenset(), frozenset(), before.render, before.audit)
    # the brief pupil marked as consented: a full re-render, and the splice
    full = root / "full.mp4"
    after = redact_in_one_pass(video, info, policy, full, tracks=tracks, visible_track_ids=brief,
                               exempt_track_ids=frozenset(), sample_every_s=EVERY)
    out = root / "spliced.mp4"
    crops = [f.crop_png_b64 for f in before.audit.findings]
    done = splice.rerender_changed(video, info, policy, tracks, old, was, crops, brief, frozenset(), out,
                                   sample_every_s=EVERY)
    return dict(root=root, video=video, info=info, policy=policy, tracks=tracks, brief=brief, old=old, was=was,
                before=before, full=full, after=after, out=out, done=done, crops=crops)


def test_a_three_second_change_re_encodes_only_its_gops(clip):
    done, gop = clip["done"], round(KEYFRAME_S * FPS)
    starts = [i for i, (pts, key, _) in enumerate(sorted(_packets(clip["old"]))) if key]
    assert starts == list(range(0, N, gop))  # fixed GOPs in the previous rendition
    # the changed frames: the brief pupil's boxes, held before and after (at most 3 x hold_s after: abrupt vanish)
    (c0, c1), = done.changed
    assert BRIEF[0] - 1.5 * FPS <= c0 <= BRIEF[0] and BRIEF[1] <= c1 <= BRIEF[1] + 3.5 * FPS
    (s0, s1), = done.stretches
    assert s0 == c0 // gop * gop and s1 == -(-c1 // gop) * gop  # whole GOPs, no more
    reencoded = (s1 - s0) // gop
    assert 4 <= reencoded <= 9 < N // gop  # 3 s of change: a handful of the 20 GOPs
    old, new = _packets(clip["old"]), _packets(clip["out"])
    outside_old = [p for p in old if not s0 <= _frame_of(p, old) < s1]
    outside_new = [p for p in new if not s0 <= _frame_of(p, new) < s1]
    assert outside_new == outside_old  # the other GOPs: the previous rendition's packets, byte for byte
    inside_new = [p for p in new if s0 <= _frame_of(p, new) < s1]
    assert sum(key for _, key, _ in inside_new) == reencoded  # one fresh keyframe per re-encoded GOP
    assert len(inside_new) == s1 - s0


def _frame_of(packet, packets) -> int:
    first = min(p[0] for p in packets)
    step = sorted(p[0] for p in packets)[1] - first
    return (packet[0] - first) // step


def test_the_splice_matches_a_full_re_render(clip):
    old, full, out = _decode(clip["old"]), _decode(clip["full"]), _decode(clip["out"])
    assert len(old) == len(full) == len(out) == N  # frame count unchanged
    info_old, info_out = media.probe(clip["old"]), media.probe(clip["out"])
    assert info_out.duration_s == pytest.approx(info_old.duration_s, abs=0.05) and info_out.has_audio
    tags = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format_tags", "-of", "json", str(clip["out"])],
                          capture_output=True, check=True, text=True).stdout
    assert "encoder" not in tags and "Lav" not in tags  # no muxer or version tag (the renderer's bitexact rule)
    (s0, s1), = clip["done"].stretches
    x1, y1, x2, y2 = _brief_face()
    source = list(_frames())
    for i in range(N):
        if s0 <= i < s1:
            # inside: what a full re-render shows, within codec tolerance
            assert _psnr(out[i], full[i]) > 35, i
        else:
            assert np.array_equal(out[i], old[i]), i  # copied packets decode to the very same frames
            # a full re-render encodes the same frames, except where its encoder looked ahead into the change
            # (x264's look-ahead reaches up to 10 frames before a keyframe at preset veryfast)
            if not s0 - 10 <= i < s0:
                assert np.array_equal(out[i], full[i]), i
            assert _psnr(out[i], full[i]) > 35, i
    for i in range(*BRIEF):  # the marked pupil is visible in the splice, hidden before
        face_src = source[i][y1:y2, x1:x2]
        assert _detail_corr(out[i][y1:y2, x1:x2], face_src) > 0.7, i
        assert _detail_corr(old[i][y1:y2, x1:x2], face_src) < 0.3, i
    # the seated pupil stays hidden everywhere
    (patch, (fx, fy, fw, fh)), _ = _patches()
    for i in range(0, N, 10):
        x, y = SEATED_AT[0] + i % 7 + fx, SEATED_AT[1] + fy
        assert _detail_corr(out[i][y:y + fh, x:x + fw], source[i][y:y + fh, x:x + fw]) < 0.3, i


def test_the_audit_and_the_counts_merge(clip):
    done, after, before = clip["done"], clip["after"], clip["before"]
    # a consented pupil's visible face is still shown to the owner as a finding: inside the stretch, from the new pass
    assert done.audit.sampled_frames == after.audit.sampled_frames == SECONDS
    assert sorted(f.t_s for f in done.audit.findings) == sorted(f.t_s for f in after.audit.findings)
    assert done.audit.finding_count == after.audit.finding_count > before.audit.finding_count
    assert all(c for c in done.crops)  # each finding keeps its crop for the reviewer
    for field in ("frames", "hidden_boxes", "frames_with_hidden_faces", "zone_frames", "fully_hidden_frames"):
        assert getattr(done.render, field) == getattr(after.render, field), field
    assert done.render.visible_track_ids == tuple(sorted(clip["brief"]))


def test_no_change_keeps_the_rendition_and_a_changed_input_is_refused(clip, tmp_path):
    c = clip
    same = splice.rerender_changed(c["video"], c["info"], c["policy"], c["tracks"], c["old"], c["was"], c["crops"],
                                   frozenset(), frozenset(), tmp_path / "same.mp4", sample_every_s=EVERY)
    assert same.stretches == () and not (tmp_path / "same.mp4").exists()
    assert same.audit.finding_count == c["before"].audit.finding_count
    # the stored rendition is not the one the record describes (or another original): refused, nothing written
    other = tmp_path / "other.mp4"
    other.write_bytes(c["old"].read_bytes()[:-10])
    for previous, was in ((other, c["was"]), (c["old"], replace(c["was"], original_sha256="0" * 64))):
        with pytest.raises(splice.SpliceError):
            splice.rerender_changed(c["video"], c["info"], c["policy"], c["tracks"], previous, was, c["crops"],
                                    c["brief"], frozenset(), tmp_path / "x.mp4", sample_every_s=EVERY)
        assert not (tmp_path / "x.mp4").exists()


def test_a_stretch_that_does_not_fit_is_refused(clip, tmp_path):
    c = clip
    (s0, s1), = c["done"].stretches
    piece = tmp_path / "piece.mp4"
    redact_in_one_pass(c["video"], c["info"], c["policy"], piece, tracks=c["tracks"], frames=(s0, s1 - 1))
    with pytest.raises(splice.SpliceError, match="frame grid|whole GOPs"):
        splice.splice_packets(c["old"], [(s0, s1, piece)], tmp_path / "bad.mp4", FPS)
    # a spliced file with fewer frames than the rendition, or one that does not decode, is refused by the check
    layout = splice.gop_layout(c["old"], FPS)
    with pytest.raises(splice.SpliceError, match="frames"):
        splice.verify(c["old"], replace(layout, n_frames=N + 25))
    broken = bytearray(c["out"].read_bytes())
    for k in range(len(broken) // 2, len(broken) // 2 + 4000, 7):
        broken[k] ^= 0x5A
    (tmp_path / "broken.mp4").write_bytes(bytes(broken))
    with pytest.raises(splice.SpliceError):
        splice.verify(tmp_path / "broken.mp4", layout)


def test_the_pipeline_falls_back_to_a_full_render(tmp_path):
    """A re-render with nothing changed keeps the rendition; one whose record does not match renders whole."""
    from conftest import SAMPLE_MEDIA
    from videocoach import pipeline
    from videocoach.config import Settings
    from videocoach.core import serialize
    from videocoach.privacy.tracking import FaceTracks
    from videocoach.storage.store import Store

    clip = tmp_path / "clip.mp4"
    subprocess.run([ffmpeg_binary(), "-v", "error", "-ss", "10", "-t", "3", "-i", str(SAMPLE_MEDIA / "lesson.mp4"),
                    "-an", "-c:v", "libx264", str(clip)], check=True)
    store = Store(Settings(tmp_path / "data", tmp_path / "key"))
    owner = store.add_user("t", "teacher", None)
    lesson = pipeline.ingest_file(store, owner, clip, policy_name="blur-all-pupils")
    info = pipeline.load_info(store, lesson.id)
    nothing = FaceTracks((), info.width, info.height, info.fps, 10_000, 1, 0.05, 1.0)
    store.save_stage(lesson.id, "faces", serialize.dumps(nothing))
    pipeline.run(store, lesson.id, stages=["people", "render"])
    first = store.media_path(lesson.id, "redacted")
    assert store.stage(lesson.id, "rendition") is not None

    pipeline.rerender(store, lesson.id)  # nothing changed: the same rendition, its audit kept
    assert store.media_path(lesson.id, "redacted") == first
    assert store.stage(lesson.id, "render") and store.stage(lesson.id, "audit")
    assert not [e for e in store.audit_entries(lesson.id) if e.action == "render.full"]

    was = splice.load_rendition(store.stage(lesson.id, "rendition"))
    store.save_stage(lesson.id, "rendition", serialize.dumps(replace(was, file_sha256="0" * 64)))
    pipeline.rerender(store, lesson.id)  # the record does not describe the file: the whole lesson again
    assert store.media_path(lesson.id, "redacted") != first
    assert [e for e in store.audit_entries(lesson.id) if e.action == "render.full"]
    assert splice.load_rendition(store.stage(lesson.id, "rendition")).file_sha256 != "0" * 64
    store.close()


def test_gop_stretches_are_whole_gops_joined_when_close():
    starts = list(range(0, 500, 25))
    assert splice.gop_stretches([(30, 31)], starts, 500) == ((25, 50),)
    assert splice.gop_stretches([(25, 50)], starts, 500) == ((25, 50),)
    assert splice.gop_stretches([(490, 500)], starts, 500) == ((475, 500),)
    assert splice.gop_stretches([(3, 5), (60, 80), (180, 190)], starts, 500) == ((0, 25), (50, 100), (175, 200))
    assert splice.gop_stretches([(3, 5), (60, 80), (180, 190)], starts, 500, merge_gap=25) == ((0, 100), (175, 200))
    assert splice.gop_stretches([(3, 5), (60, 80), (180, 190)], starts, 500, max_stretches=2) == ((0, 100), (175, 200))
    assert splice.gop_stretches([], starts, 500) == ()


def test_a_mark_through_the_pipeline_re_renders_only_its_stretch(tmp_path):
    """The owner marks a short track: the pipeline splices (no full render), the rendition and its record follow."""
    from conftest import SAMPLE_MEDIA
    from videocoach import pipeline
    from videocoach.config import Settings
    from videocoach.core import serialize
    from videocoach.privacy.tracking import Detection, FaceTrack, FaceTracks
    from videocoach.storage.store import Store

    clip = tmp_path / "clip.mp4"
    subprocess.run([ffmpeg_binary(), "-v", "error", "-ss", "20", "-t", "16", "-i", str(SAMPLE_MEDIA / "lesson.mp4"),
                    "-an", "-vf", "scale=640:360", "-c:v", "libx264", str(clip)], check=True)
    store = Store(Settings(tmp_path / "data", tmp_path / "key"))
    owner = store.add_user("t", "teacher", None)
    lesson = pipeline.ingest_file(store, owner, clip, policy_name="blur-all-pupils")
    info = pipeline.load_info(store, lesson.id)
    track = FaceTrack(7, tuple(Detection(round(8 + k * 0.2, 3), (100.0, 80.0, 160.0, 150.0), 0.9) for k in range(6)))
    tracks = FaceTracks((track,), info.width, info.height, info.fps, round(info.duration_s * info.fps), 5, 0.05, 1.0)
    store.save_stage(lesson.id, "faces", serialize.dumps(tracks))
    pipeline.run(store, lesson.id, stages=["people", "render"])  # the first rendition: the track hidden
    first = store.media_path(lesson.id, "redacted")

    store.mark_face(owner, lesson.id, 7, "teacher")
    pipeline.rerender(store, lesson.id)
    assert not [e for e in store.audit_entries(lesson.id) if e.action == "render.full"]
    assert store.media_path(lesson.id, "redacted") != first
    render = json.loads(store.stage(lesson.id, "render"))
    assert render["visible_track_ids"] == [7] and render["frames"] == round(info.duration_s * info.fps)
    was = splice.load_rendition(store.stage(lesson.id, "rendition"))
    assert was.visible_track_ids == (7,) and was.exempt_track_ids == (7,)
    with store.media_plaintext(lesson.id, "redacted", suffix=".mp4") as plain:
        assert file_sha256(plain) == was.file_sha256
        frames = splice.gop_layout(plain, info.fps).n_frames
    assert frames == render["frames"]
    store.close()
