"""The GPU paths (onnxruntime's CUDA provider for the face detector, CTranslate2 on CUDA for Whisper): each test is
skipped where no CUDA device exists; the CPU stays the default and the tested path everywhere else."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import shared
from test_redact import SOURCE, SOURCE_FACES


def test_cuda_face_detector_matches_cpu():
    from videocoach.privacy.faces import cuda_available, detector_device, load_detector

    if not cuda_available():
        assert detector_device() == "cpu"
        pytest.skip("no CUDA device for onnxruntime here")
    assert detector_device() == "cuda"
    img = cv2.imread(str(shared("faces", "wider_val", SOURCE)))
    cpu = load_detector(0.3).detect(img)
    gpu = load_detector(0.3, device="cuda").detect(img)
    assert len(cpu) == len(gpu) >= len(SOURCE_FACES)
    assert np.allclose(cpu[:, :4], gpu[:, :4], atol=2.0)


def test_whisper_runs_on_cuda_where_present():
    import ctranslate2

    from videocoach.audio.transcribe import AsrConfig, asr_device, decode_audio, load_asr

    if ctranslate2.get_cuda_device_count() == 0:
        assert asr_device() == "cpu"
        pytest.skip("no CUDA device for CTranslate2 here")
    assert asr_device() == "cuda"
    audio = decode_audio(shared("speech", "jfk", "jfk.flac"))
    text = load_asr(AsrConfig()).transcribe(audio).text.lower()
    assert "ask not what your country can do for you" in text
