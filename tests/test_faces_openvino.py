"""CenterFace on OpenVINO against onnxruntime on real frames, and the fall-back to onnxruntime."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from videocoach.privacy import faces
from videocoach.privacy.faces import FaceDetectorError, load_detector

pytest.importorskip("openvino", reason="the openvino package is not installed (pyproject.toml pins it)")

LESSON = Path(__file__).resolve().parents[1] / "sample_media" / "lesson.mp4"


@pytest.fixture(scope="module")
def lesson_frames():
    from videocoach.av import media
    from videocoach.av.video_io import FrameReader

    with FrameReader(LESSON, media.probe(LESSON), fps=1 / 20) as reader:
        frames = [f.image for f in reader][:4]
    assert len(frames) == 4 and frames[0].shape == (720, 1280, 3)
    return frames


def _regions(frames):
    """Whole 720p frames and regions of the sizes the motion schedule detects (not multiples of 32 either)."""
    out = list(frames)
    for i, (y, x, h, w) in enumerate(((100, 200, 224, 352), (0, 0, 97, 161), (300, 640, 420, 640))):
        out.append(np.ascontiguousarray(frames[i % len(frames)][y : y + h, x : x + w]))
    return out


def test_openvino_outputs_match_onnxruntime_on_real_frames(lesson_frames, no_network):
    ov = load_detector(runtime="openvino")
    ort = load_detector(runtime="onnxruntime")
    assert (ov.config.runtime, ort.config.runtime) == ("openvino", "onnxruntime")
    faces_seen = 0
    for image in _regions(lesson_frames):
        blob = faces._blob(image)
        a = ov._session.run(list(faces._OUTPUTS), {faces._INPUT: blob})
        b = ort._session.run(list(faces._OUTPUTS), {faces._INPUT: blob})
        for x, y in zip(a, b):
            assert x.shape == y.shape
            assert float(np.abs(x - y).max()) < 1e-3  # float32 both: measured 5e-5 on the scale map
        da, db = ov.detect(image), ort.detect(image)
        faces_seen += len(db)
        sure = db[db[:, 4] >= 0.1]  # clear of the threshold: a 1e-4 wobble cannot drop them
        for box in sure:
            near = np.abs(da[:, :5] - box).max(axis=1) if len(da) else np.array([np.inf])
            assert near.min() < 0.05, (box, da)
    assert faces_seen >= 4, "the sample lesson shows pupils: the frames should hold faces"


def test_bf16_runs_on_openvino_and_finds_the_clear_faces(lesson_frames):
    det = load_detector(precision="bf16")  # no runtime named: bf16 exists on OpenVINO only
    assert (det.config.precision, det.config.runtime) == ("bf16", "openvino")
    ref = load_detector(runtime="onnxruntime")
    for image in lesson_frames:
        found, clear = det.detect(image), ref.detect(image)
        clear = clear[clear[:, 4] >= 0.5]
        for box in clear:  # every face onnxruntime is sure of, bf16 finds at the same place
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            assert any(b[0] <= cx < b[2] and b[1] <= cy < b[3] for b in found), box


def test_missing_openvino_falls_back_to_onnxruntime(lesson_frames, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "openvino", None)  # "import openvino" now raises ImportError
    det = load_detector(runtime="openvino")
    assert det.config.runtime == "onnxruntime"
    assert "OpenVINO unavailable" in caplog.text
    ref = load_detector(runtime="onnxruntime")
    np.testing.assert_array_equal(det.detect(lesson_frames[1]), ref.detect(lesson_frames[1]))
    bf16 = load_detector(precision="bf16")  # the opt-in precision without OpenVINO: onnxruntime in float32
    assert bf16.config.runtime == "onnxruntime"
    np.testing.assert_array_equal(bf16.detect(lesson_frames[1]), ref.detect(lesson_frames[1]))


def test_unloadable_model_fails_closed_on_both_runtimes(tmp_path):
    bad = tmp_path / "centerface.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(FaceDetectorError):
        load_detector(runtime="openvino", model_path=bad)


def test_runtime_from_the_environment(monkeypatch):
    monkeypatch.setenv(faces.RUNTIME_ENV, "openvino")
    assert load_detector().config.runtime == "openvino"
    monkeypatch.setenv(faces.RUNTIME_ENV, "")
    assert load_detector().config.runtime == faces.DEFAULT_RUNTIME
    monkeypatch.setenv(faces.RUNTIME_ENV, "tensorflow")
    with pytest.raises(FaceDetectorError):
        load_detector()


def test_detection_precision_from_the_environment():
    import os
    import subprocess

    code = "from videocoach.privacy import faces; print(faces.DEFAULT_PRECISION, faces.detection_precision())"
    root = str(Path(__file__).resolve().parents[1])
    want_auto = "bf16" if faces.cpu_has_bf16() else "fp32"  # the probe decides
    for value, want in (("bf16", "bf16"), ("fp32", "fp32"), ("", faces.DEFAULT_CHOICE), ("auto", want_auto)):
        env = dict(os.environ, PYTHONPATH=root, **{faces.PRECISION_ENV: value})
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.split() == [want, want]


def _cpuinfo(tmp_path, flags: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text("processor\t: 0\nmodel name\t: a CPU\nflags\t\t: fpu sse2 avx2 " + flags + "\n\n"
                    "processor\t: 1\nflags\t\t: fpu sse2 avx2 " + flags + "\n")
    return path


def test_the_bf16_probe_reads_the_cpu_flags(tmp_path):
    assert faces.cpu_has_bf16(_cpuinfo(tmp_path, "avx512f avx512_bf16"))
    assert faces.cpu_has_bf16(_cpuinfo(tmp_path, "amx_tile amx_bf16"))
    assert not faces.cpu_has_bf16(_cpuinfo(tmp_path, "avx512f avx512_vnni"))  # AVX-512 alone: no bf16 arithmetic
    # no /proc/cpuinfo (not Linux): OpenVINO's own word, the same answer on this machine
    assert faces.cpu_has_bf16(tmp_path / "missing") == faces.cpu_has_bf16()


def test_the_default_is_float32_whatever_the_cpu(monkeypatch):
    monkeypatch.delenv(faces.PRECISION_ENV, raising=False)
    for has in (True, False):
        monkeypatch.setattr(faces, "cpu_has_bf16", lambda *a, has=has: has)
        assert faces.detection_precision() == "fp32"
        det = faces.load_pass_detector(0.05)
        assert (det.config.precision, det.config.runtime, det.threshold) == ("fp32", "onnxruntime", 0.05)


def test_a_cpu_with_bf16_runs_the_pass_in_bf16_below_the_threshold(monkeypatch, lesson_frames):
    monkeypatch.setenv(faces.PRECISION_ENV, "auto")
    monkeypatch.setattr(faces, "cpu_has_bf16", lambda *a: True)
    assert faces.detection_precision() == "bf16"
    det = faces.load_pass_detector(0.05)
    assert (det.config.precision, det.config.runtime) == ("bf16", "openvino")
    assert det.threshold == pytest.approx(0.05 - faces.BF16_THRESHOLD_GAP)  # fail closed: hides at least float32's
    ref = load_detector(0.05, runtime="onnxruntime")
    for image in lesson_frames:
        found = det.detect(image)
        for box in ref.detect(image):  # every face float32 finds at the threshold, the bf16 pass finds
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            assert any(b[0] <= cx < b[2] and b[1] <= cy < b[3] for b in found), box
    monkeypatch.setenv(faces.PRECISION_ENV, "fp32")  # the environment forces float32 on such a CPU
    det = faces.load_pass_detector(0.05)
    assert (det.config.precision, det.config.runtime, det.threshold) == ("fp32", "onnxruntime", 0.05)


def test_a_cpu_without_bf16_keeps_onnxruntime_float32(monkeypatch, lesson_frames):
    monkeypatch.setenv(faces.PRECISION_ENV, "auto")
    monkeypatch.setattr(faces, "cpu_has_bf16", lambda *a: False)
    assert faces.detection_precision() == "fp32"
    det = faces.load_pass_detector(0.05)
    assert (det.config.precision, det.config.runtime, det.threshold) == ("fp32", "onnxruntime", 0.05)
    ref = load_detector(0.05, runtime="onnxruntime")
    np.testing.assert_array_equal(det.detect(lesson_frames[2]), ref.detect(lesson_frames[2]))
    monkeypatch.setenv(faces.PRECISION_ENV, "bf16")  # forced: OpenVINO bf16 (emulated where the CPU lacks it)
    assert faces.load_pass_detector(0.05).config.runtime == "openvino"
    monkeypatch.setenv(faces.PRECISION_ENV, "fp16")
    with pytest.raises(FaceDetectorError):
        faces.detection_precision()


def test_bf16_without_openvino_is_float32_at_the_policy_threshold(monkeypatch, lesson_frames):
    monkeypatch.setenv(faces.PRECISION_ENV, "auto")
    monkeypatch.setattr(faces, "cpu_has_bf16", lambda *a: True)
    monkeypatch.setitem(sys.modules, "openvino", None)  # not installed
    assert faces.detection_precision() == "fp32"
    monkeypatch.setenv(faces.PRECISION_ENV, "bf16")  # asked for, but OpenVINO is missing: onnxruntime float32
    det = faces.load_pass_detector(0.05)
    assert (det.config.runtime, det.threshold) == ("onnxruntime", 0.05)


def test_the_pass_and_the_audit_load_their_detectors(monkeypatch):
    from videocoach.privacy import redact

    monkeypatch.delenv(faces.PRECISION_ENV, raising=False)
    monkeypatch.setattr(faces, "cpu_has_bf16", lambda *a: True)
    audit = redact.load_audit_detector()  # the audit judges in float32 whatever the pass runs
    assert (audit.config.precision, audit.config.runtime) == ("fp32", "onnxruntime")
