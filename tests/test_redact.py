"""Redaction end to end on a generated video: real WIDER face crops pasted at known, moving positions; real CenterFace,
real ffmpeg.  Checks run on the DECODED redacted output, frame by frame."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import shared
from videocoach.av import media
from videocoach.av.ffmpeg import ffmpeg_binary, ffprobe_binary
from videocoach.privacy.policy import load_policy, policy_from_dict
from videocoach.privacy.redact import (
    AuditReport,
    RedactionError,
    RenderReport,
    audit,
    cut_clip,
    detect_faces,
    render_redacted,
)
from videocoach.privacy.tracking import FaceTracks

# real CenterFace and real ffmpeg on a generated 3 s video: ~15-20 s for the module on 2 cores
pytestmark = pytest.mark.slow

W, H, FPS, SECONDS = 480, 360, 25, 3
N = FPS * SECONDS
FACE_PX = 64  # pasted face height (the labelled face box, scaled)
SOURCE = "12--Group/12_Group_Team_Organized_Group_12_Group_Team_Organized_Group_12_244.jpg"
SOURCE_FACES = [(146, 134, 138, 116), (398, 68, 128, 156), (614, 104, 130, 210)]  # x y w h from label.txt


@dataclass(frozen=True)
class Person:
    name: str
    patch: np.ndarray  # crop with context around the face
    face: tuple[int, int, int, int]  # labelled face box inside the patch: x, y, w, h
    path: tuple[tuple[float, float], tuple[float, float]]  # patch top-left at t=0 and at the end

    def at(self, i: int) -> tuple[int, int]:
        a = i / (N - 1)
        (x0, y0), (x1, y1) = self.path
        return round(x0 + a * (x1 - x0)), round(y0 + a * (y1 - y0))

    def face_rect(self, i: int) -> tuple[int, int, int, int]:
        """The face box in frame i as x1, y1, x2, y2."""
        px, py = self.at(i)
        fx, fy, fw, fh = self.face
        return px + fx, py + fy, px + fx + fw, py + fy + fh


def _crops() -> list[tuple[np.ndarray, tuple[int, int, int, int]]]:
    img = cv2.imread(str(shared("faces", "wider_val", SOURCE)))
    out = []
    for x, y, w, h in SOURCE_FACES:
        s = FACE_PX / h
        m = 0.35  # context around the face: hair, neck
        x1, y1 = max(0, int(x - m * w)), max(0, int(y - m * h))
        x2, y2 = min(img.shape[1], int(x + w + m * w)), min(img.shape[0], int(y + h + m * h))
        patch = cv2.resize(img[y1:y2, x1:x2], None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        face = (round((x - x1) * s), round((y - y1) * s), round(w * s), round(h * s))
        out.append((patch, face))
    return out


def _background() -> np.ndarray:
    rng = np.random.default_rng(7)
    noise = rng.integers(0, 255, size=(H // 8, W // 8, 3), dtype=np.uint8)
    bg = cv2.resize(noise, (W, H), interpolation=cv2.INTER_CUBIC)
    bg = cv2.GaussianBlur(bg, (0, 0), 3)
    # fine texture everywhere, so "detail gone" is measurable in zones too
    bg = cv2.add(bg, rng.integers(0, 40, size=(H, W, 3), dtype=np.uint8))
    return bg


def _people() -> list[Person]:
    (a, fa), (b, fb), (c, fc) = _crops()
    return [
        Person("pupil_moving", a, fa, ((10, 20), (170, 40))),  # walks across the top left
        Person("pupil_seated", b, fb, ((40, 230), (60, 220))),  # nearly still, bottom left
        Person("teacher", c, fc, ((360, 60), (360, 200))),  # walks down the right side
    ]


def _frame(i: int, bg: np.ndarray, people: list[Person]) -> np.ndarray:
    frame = bg.copy()
    for p in people:
        x, y = p.at(i)
        h, w = p.patch.shape[:2]
        frame[y : y + h, x : x + w] = p.patch
    return frame


def _write_video(path: Path, frames) -> None:
    """H.264 + a sine tone, with tags that must not survive redaction."""
    argv = [
        ffmpeg_binary(), "-hide_banner", "-v", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{W}x{H}", "-framerate", str(FPS), "-i", "pipe:0",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={SECONDS}",
        "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p", "-c:a", "aac",
        "-metadata", "title=secret lesson", "-metadata", "comment=pupil names", "-metadata", "location=+51.5+000.1/",
        "-shortest", str(path),
    ]
    proc = subprocess.run(argv, input=b"".join(f.tobytes() for f in frames), capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr.decode()


def _decode(path: Path) -> list[np.ndarray]:
    info = media.probe(path)
    argv = [ffmpeg_binary(), "-v", "error", *media.input_args(path, info), "-map", "0:v:0",
            "-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:1"]
    raw = subprocess.run(argv, capture_output=True, check=True).stdout
    n = len(raw) // (W * H * 3)
    return [np.frombuffer(raw, np.uint8, W * H * 3, k * W * H * 3).reshape(H, W, 3) for k in range(n)]


def detail_corr(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of fine detail (image minus its 7x7 box blur): about 0.9 for the same face through H.264,
    near 0 once mosaicked or filled."""

    def detail(x):
        g = cv2.cvtColor(x, cv2.COLOR_BGR2GRAY).astype(np.float32)
        return (g - cv2.blur(g, (7, 7))).ravel()

    da, db = detail(a), detail(b)
    da, db = da - da.mean(), db - db.mean()
    denom = float(np.sqrt((da * da).sum() * (db * db).sum()))
    return float((da * db).sum() / denom) if denom > 0 else 0.0


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    root = tmp_path_factory.mktemp("redact")
    bg, people = _background(), _people()
    frames = [_frame(i, bg, people) for i in range(N)]
    video = root / "lesson.mp4"
    _write_video(video, frames)
    info = media.probe(video)
    policy = load_policy("blur-all-pupils")
    tracks = detect_faces(video, info, policy, id_base=0)
    return dict(root=root, frames=frames, people=people, video=video, info=info, policy=policy, tracks=tracks)


def _track_of(tracks: FaceTracks, person: Person) -> set[int]:
    """Tracks whose detections sit on this person's face."""
    ids = set()
    for t in tracks.tracks:
        for d in t.detections:
            i = round(d.t_s * FPS)
            x1, y1, x2, y2 = person.face_rect(i)
            cx, cy = (d.box[0] + d.box[2]) / 2, (d.box[1] + d.box[3]) / 2
            if x1 <= cx < x2 and y1 <= cy < y2:
                ids.add(t.id)
    return ids


def test_detection_finds_every_pasted_face_and_tracks_them(scene):
    tracks, people = scene["tracks"], scene["people"]
    assert tracks.n_frames == N and (tracks.width, tracks.height) == (W, H)
    assert tracks.failed_s == ()
    for p in people:
        ids = _track_of(tracks, p)
        assert ids, f"{p.name} was never detected"
        # every detection pass saw the face (passes at frames 0, 5, ..., and the last frame)
        seen = {round(d.t_s * FPS) for t in tracks.tracks if t.id in ids for d in t.detections}
        passes = set(range(0, N, tracks.detect_every)) | {N - 1}
        assert len(seen & passes) >= 0.9 * len(passes), f"{p.name}: seen at {sorted(seen)}"
    # the teacher walks 140 px in 3 s: one stable track
    assert len(_track_of(tracks, people[2])) == 1
    # JSON round trip (the store saves tracks; a re-render must not detect again)
    assert FaceTracks.from_json(tracks.to_json()) == tracks


def test_every_pupil_face_hidden_in_every_frame_teacher_only_when_marked(scene):
    root, people, frames = scene["root"], scene["people"], scene["frames"]
    (teacher_id,) = _track_of(scene["tracks"], people[2])
    for visible in (frozenset(), frozenset({teacher_id})):
        out = root / f"redacted_{len(visible)}.mp4"
        report = render_redacted(scene["video"], scene["info"], scene["tracks"], scene["policy"], visible, out)
        assert isinstance(report, RenderReport)
        assert report.frames == N and report.fully_hidden_frames == 0
        assert (report.policy_name, report.policy_version) == ("blur-all-pupils", 1)
        decoded = _decode(out)
        assert len(decoded) == N
        for i, (orig, red) in enumerate(zip(frames, decoded)):
            for p in people:
                x1, y1, x2, y2 = p.face_rect(i)
                c = detail_corr(orig[y1:y2, x1:x2], red[y1:y2, x1:x2])
                if p.name == "teacher" and visible:
                    assert c > 0.6, f"frame {i}: the marked teacher is not visible (corr {c:.2f})"
                else:
                    assert c < 0.25, f"frame {i}: {p.name}'s face is visible (corr {c:.2f}, visible={set(visible)})"
        # the background away from every face is left alone
        assert detail_corr(frames[N // 2][300:350, 250:330], decoded[N // 2][300:350, 250:330]) > 0.6


def test_output_is_stripped_keeps_audio_and_is_seekable(scene):
    out = scene["root"] / "redacted_0.mp4"
    if not out.exists():
        render_redacted(scene["video"], scene["info"], scene["tracks"], scene["policy"], frozenset(), out)
    probe = json.loads(subprocess.run(
        [ffprobe_binary(), "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(out)],
        capture_output=True, check=True).stdout)
    tags = dict(probe["format"].get("tags", {}))
    for s in probe["streams"]:
        tags.update(s.get("tags", {}))
    assert not {k for k in tags if k.lower().startswith(("title", "comment", "location", "creation_time"))}, tags
    text = json.dumps(probe).lower()
    for secret in ("secret lesson", "pupil names", "+51.5"):
        assert secret not in text
    kinds = sorted(s["codec_type"] for s in probe["streams"])
    assert kinds == ["audio", "video"]
    video = next(s for s in probe["streams"] if s["codec_type"] == "video")
    assert video["codec_name"] == "h264" and video["pix_fmt"] == "yuv420p"
    assert abs(float(probe["format"]["duration"]) - SECONDS) < 0.2
    # keyframes every second
    keys = subprocess.run(
        [ffprobe_binary(), "-v", "error", "-select_streams", "v:0", "-skip_frame", "nokey", "-show_entries",
         "frame=pts_time", "-of", "csv=p=0", str(out)], capture_output=True, check=True, text=True).stdout.split()
    assert len(keys) >= SECONDS
    # a clip is cut from the redacted file, re-encoded and stripped too
    clip = cut_clip(out, 1.0, 2.0, scene["root"] / "clip.mp4")
    clip_info = media.probe(clip)
    assert abs(clip_info.duration_s - 1.0) < 0.15 and clip_info.has_audio
    clip_frames = _decode(clip)
    decoded = _decode(out)
    assert detail_corr(clip_frames[0], decoded[FPS]) > 0.8  # frame-accurate start at 1.0 s


def test_zones_hidden_with_no_face_and_teacher_zone_rule(scene):
    root, frames = scene["root"], scene["frames"]
    # a zone over bare background (bottom right) and a teacher zone carving a strip out of it
    policy = policy_from_dict({
        "name": "test-zones", "version": 3, "zones": [[0.5, 0.75, 0.5, 0.25]],
        "teacher_zones": [[0.5, 0.75, 0.25, 0.25]], "method": "fill",
    })
    zone = (240, 270, 480, 360)
    carve = (240, 270, 360, 360)
    teacher_id = next(iter(_track_of(scene["tracks"], scene["people"][2])))
    for visible, carved_visible in ((frozenset(), False), (frozenset({teacher_id}), True)):
        out = root / f"zones_{len(visible)}.mp4"
        report = render_redacted(scene["video"], scene["info"], scene["tracks"], policy, visible, out)
        assert report.zone_frames == N and report.policy_version == 3
        decoded = _decode(out)
        for i in (0, N // 2, N - 1):
            x1, y1, x2, y2 = 370, 280, 470, 350  # in the zone, outside the teacher zone: always filled
            assert detail_corr(frames[i][y1:y2, x1:x2], decoded[i][y1:y2, x1:x2]) < 0.1
            assert float(decoded[i][y1:y2, x1:x2].std()) < 4.0  # solid fill
            cx1, cy1, cx2, cy2 = 250, 290, 350, 350  # the teacher zone: background shown only once a teacher is marked
            c = detail_corr(frames[i][cy1:cy2, cx1:cx2], decoded[i][cy1:cy2, cx1:cx2])
            assert (c > 0.6) if carved_visible else (c < 0.1), (i, c, carved_visible)
    assert zone[0] <= carve[0] and carve[2] <= zone[2]


def test_corrupt_input_raises_and_leaves_nothing(scene, tmp_path):
    data = scene["video"].read_bytes()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(data[: len(data) // 3])  # cut off: frames missing at the end
    out = tmp_path / "out.mp4"
    with pytest.raises(RedactionError):
        render_redacted(broken, scene["info"], scene["tracks"], scene["policy"], frozenset(), out)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["broken.mp4"]  # no partial file either

    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(data[:2000] + bytes(np.random.default_rng(1).integers(0, 255, 50_000, dtype=np.uint8)))
    with pytest.raises((RedactionError, media.MediaError)):
        info = media.probe(garbage)
        render_redacted(garbage, info, scene["tracks"], scene["policy"], frozenset(), out)
    assert not out.exists()


def test_progress_callback_failure_leaves_nothing(scene, tmp_path):
    out = tmp_path / "out.mp4"

    def explode(stage, fraction):
        if fraction > 0.3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        render_redacted(scene["video"], scene["info"], scene["tracks"], scene["policy"], frozenset(), out, explode)
    assert list(tmp_path.iterdir()) == []


def test_tracks_less_sensitive_than_policy_are_refused(scene, tmp_path):
    stricter = replace(scene["policy"], threshold=0.02)
    with pytest.raises(RedactionError, match="run detection again"):
        render_redacted(scene["video"], scene["info"], scene["tracks"], stricter, frozenset(), tmp_path / "o.mp4")
    assert list(tmp_path.iterdir()) == []


def test_failed_detection_pass_hides_frames_whole(scene, tmp_path):
    tracks = replace(scene["tracks"], failed_s=(1.0,))  # as if the pass at frame 25 had raised
    out = tmp_path / "o.mp4"
    report = render_redacted(scene["video"], scene["info"], tracks, scene["policy"], frozenset(), out)
    # frames within one detection interval (5 frames) of the failed pass are filled: 21..29
    assert report.fully_hidden_frames == 9
    decoded = _decode(out)
    assert float(decoded[25].std()) < 3.0 and float(decoded[10].std()) > 20.0


def test_audit_finds_faces_in_unredacted_video_and_none_in_redacted(scene):
    # "deliberately unredacted": the original, audited as if detection had found nothing
    empty = replace(scene["tracks"], tracks=())
    found = audit(scene["video"], empty, frozenset(), scene["policy"], sample_every_s=1.0)
    assert isinstance(found, AuditReport)
    assert found.sampled_frames == SECONDS and found.finding_count >= 2 * SECONDS
    assert not found.clean
    crop = cv2.imdecode(np.frombuffer(found.findings[0].crop_png, np.uint8), cv2.IMREAD_COLOR)
    assert crop is not None and crop.shape[0] > 20

    out = scene["root"] / "redacted_0.mp4"
    if not out.exists():
        render_redacted(scene["video"], scene["info"], scene["tracks"], scene["policy"], frozenset(), out)
    clean = audit(out, scene["tracks"], frozenset(), scene["policy"], sample_every_s=1.0)
    assert clean.clean, [(f.t_s, f.box, f.score) for f in clean.findings]


def test_rotated_phone_video_decodes_upright(scene, tmp_path):
    """A 90-degree display rotation: frames come out portrait (as shown), so faces are upright for the detector."""
    from videocoach.av.video_io import FrameReader

    rotated = tmp_path / "rotated.mp4"
    subprocess.run([ffmpeg_binary(), "-v", "error", "-i", str(scene["video"]), "-c", "copy",
                    "-metadata:s:v:0", "rotate=90", str(rotated)], check=True)
    info = media.probe(rotated)
    with FrameReader(rotated, info) as reader:
        first = next(iter(reader))
    assert first.image.shape == (W, H, 3)
    upright = cv2.rotate(scene["frames"][0], cv2.ROTATE_90_COUNTERCLOCKWISE)  # ffmpeg: tag rotate=90
    assert detail_corr(first.image, upright) > 0.8


def test_a_consented_pupil_left_visible_is_still_a_finding(scene):
    """Only the tracks the pipeline exempts (the teacher's) pass the audit; a face left visible as a "consented
    pupil" is shown to the owner as a finding."""
    visible = frozenset(t.id for t in scene["tracks"].tracks)
    out = scene["root"] / "redacted_all_visible.mp4"
    render_redacted(scene["video"], scene["info"], scene["tracks"], scene["policy"], visible, out)
    exempt_all = audit(out, scene["tracks"], visible, scene["policy"], sample_every_s=1.0)
    assert exempt_all.clean, [(f.t_s, f.box) for f in exempt_all.findings]
    audited = audit(out, scene["tracks"], visible, scene["policy"], sample_every_s=1.0, exempt_track_ids=frozenset())
    assert audited.finding_count >= SECONDS  # the visible faces are findings


def test_track_ids_fit_the_32_bit_face_marks_column(monkeypatch):
    """``face_marks.track_id`` is a 32-bit integer (PostgreSQL ``integer``): the largest run base plus a run's
    largest track number must fit it (the bases once reached 2**31, about one run in 2048)."""
    from videocoach.privacy import redact

    monkeypatch.setattr(redact.secrets, "randbelow", lambda n: n - 1)  # the largest draw
    top = redact.new_track_id_base() + (1 << redact.TRACK_ID_SHIFT) - 1
    assert top == 2**31 - 1
    monkeypatch.setattr(redact.secrets, "randbelow", lambda n: 0)  # the smallest, as before
    assert redact.new_track_id_base() == 1 << redact.TRACK_ID_SHIFT
