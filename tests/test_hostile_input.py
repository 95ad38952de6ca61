"""Hostile and malformed uploads through the real ingest path: each gets a clear MediaError, and nothing already
stored is lost or exposed (the earlier lesson's rows and sealed media are untouched; no new lesson, no stray files)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from videocoach import pipeline
from videocoach.config import Settings
from videocoach.av.ffmpeg import ffmpeg_binary
from videocoach.av.media import MediaError
from videocoach.storage.store import Store


def _lavfi(out: Path, *args: str) -> Path:
    subprocess.run([ffmpeg_binary(), "-v", "error", "-y", *args, str(out)], check=True)
    return out


@pytest.fixture(scope="module")
def good_clip(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("good")
    return _lavfi(d / "good.mp4", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=2",
                  "-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:v", "libx264", "-c:a", "aac", "-shortest")


def _hostile_files(d: Path, good: Path) -> dict[str, Path]:
    secret = d / "secret.txt"
    secret.write_text("the head's password")
    files = {}
    files["zero-byte"] = d / "empty.mp4"
    files["zero-byte"].write_bytes(b"")
    data = good.read_bytes()
    files["truncated"] = d / "truncated.mp4"
    files["truncated"].write_bytes(data[: len(data) // 3])
    files["random-bytes"] = d / "random.mp4"
    files["random-bytes"].write_bytes(os.urandom(50_000))
    files["hls-playlist"] = d / "playlist.m3u8"
    files["hls-playlist"].write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nfile:{good}\n#EXT-X-ENDLIST\n")
    files["hls-playlist-as-mp4"] = d / "playlist.mp4"
    files["hls-playlist-as-mp4"].write_text(files["hls-playlist"].read_text())
    files["ffconcat"] = d / "concat.mp4"
    files["ffconcat"].write_text(f"ffconcat version 1.0\nfile '{good}'\nfile '{secret}'\n")
    files["huge-dimensions"] = _lavfi(d / "huge.mp4", "-f", "lavfi", "-i", "color=size=5000x5000:duration=0.1:rate=10",
                                      "-c:v", "libx264", "-pix_fmt", "yuv420p")
    files["subtitle-only"] = d / "subs.mkv"
    srt = d / "s.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n")
    _lavfi(files["subtitle-only"], "-i", str(srt))
    return files


@pytest.fixture
def store_with_lesson(tmp_path, good_clip):
    store = Store(Settings(tmp_path / "data", tmp_path / "keys" / "k"))
    owner = store.add_user("t", "teacher", None)
    lesson = pipeline.ingest_file(store, owner, good_clip, title="keep me")
    yield store, owner, lesson
    store.close()


def _snapshot(store: Store):
    files = sorted(p.relative_to(store.data_dir) for p in store.media_dir.rglob("*") if p.is_file())
    lessons = [(l.id, l.status) for l in store.all_lessons()]
    return files, lessons


@pytest.mark.parametrize(
    "kind",
    ["zero-byte", "truncated", "random-bytes", "hls-playlist", "hls-playlist-as-mp4", "ffconcat", "huge-dimensions",
     "subtitle-only"],
)
def test_hostile_upload_is_refused_and_nothing_is_lost(store_with_lesson, tmp_path, good_clip, kind):
    store, owner, kept = store_with_lesson
    (tmp_path / "in").mkdir()
    hostile = _hostile_files(tmp_path / "in", good_clip)
    before = _snapshot(store)
    with pytest.raises(MediaError) as err:
        pipeline.ingest_file(store, owner, hostile[kind])
    message = str(err.value)
    assert message and "Traceback" not in message
    assert "password" not in message  # nothing of a file it points at leaks into the error
    assert _snapshot(store) == before
    with store.open_media(kept.id, "original") as sealed:
        assert sealed.read_range(0, sealed.size) == good_clip.read_bytes()
    assert list(store.work_dir.iterdir()) == []


@pytest.mark.parametrize("name", ["-i.mp4", "../x.mp4", "lesson with spaces.mp4", "leçon été ✓.mp4", "--help"])
def test_odd_names_are_fine_and_never_reach_the_store_as_paths(store_with_lesson, tmp_path, good_clip, name):
    store, owner, _ = store_with_lesson
    d = tmp_path / "odd" / "sub"
    d.mkdir(parents=True)
    target = (d / name).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(good_clip.read_bytes())
    lesson = pipeline.ingest_file(store, owner, target)
    path = store.media_path(lesson.id, "original")
    assert path.parent == store.media_dir / lesson.id and path.name.endswith(".vcm")
    assert lesson.original_name == target.name


def test_upload_stream_over_the_size_limit_stores_nothing(tmp_path):
    import io

    settings = Settings(tmp_path / "data", tmp_path / "keys" / "k", max_upload_bytes=10_000)
    store = Store(settings)
    owner = store.add_user("t", "teacher", None)
    with pytest.raises(MediaError, match="larger than the limit"):
        pipeline.ingest_stream(store, owner, io.BytesIO(b"\0" * 20_000), "big.mp4")
    assert store.all_lessons() == [] and list(store.work_dir.iterdir()) == []


def test_a_bad_upload_is_named_as_the_user_named_it(tmp_path):
    import io

    store = Store(Settings(tmp_path / "data", tmp_path / "keys" / "k"))
    owner = store.add_user("t", "teacher", None)
    with pytest.raises(MediaError) as caught:
        pipeline.ingest_stream(store, owner, io.BytesIO(b"not a video at all\n" * 100), "Year 9 — fractions.mp4")
    assert "Year 9 — fractions.mp4" in str(caught.value)
    assert "upload-" not in str(caught.value) and str(store.work_dir) not in str(caught.value)
    assert store.all_lessons() == [] and list(store.work_dir.iterdir()) == []
