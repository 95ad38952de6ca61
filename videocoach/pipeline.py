"""The lesson pipeline, read as a recipe: ingest (:mod:`videocoach.ingest`) → audio → transcribe (beside diarize →
levels → roles) → metrics, and beside them (``overlap``: statistics first) the video: faces (detection, rendering and the
audit in one decode, everything hidden) → people (who is who; the enrolled teacher's tracks) → render → audit (again
only when a mark or the enrolled teacher changes what is shown).  (The metrics stage first reads a question score per
sentence and the uptake of pupils' ideas out of Whisper's decoder and keeps them as the "question_lm" and "uptake"
results.)

Each stage's output is saved in the store as soon as it finishes (JSON in ``stages``, sealed media files), so a
re-run resumes at the unfinished stages and Ctrl-C or a crash loses nothing finished.  One model at a time is in
memory per thread.  Plaintext media exists only as transient working files (``Store.media_plaintext``).
"""

from __future__ import annotations

import dataclasses
import io
import json
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from videocoach.core import serialize
from videocoach.core.model import (
    AudioLevels,
    Diarization,
    LessonAnalysis,
    MediaInfo,
    Progress,
    RoleAssignment,
    Transcript,
    no_progress,
)
from videocoach.storage.records import Lesson, User
from videocoach.storage.store import Store
from videocoach.ingest import (  # a new lesson's entry points: part of the pipeline's API, importable from here too
    AnalyseOptions,
    PipelineError,
    audit_policy_choice,
    file_sha256,
    find_same_upload,
    ingest_file,
    ingest_stream,
    lesson_policy,
    options_of,
    upload_limits,
)


AUDIO_STAGES = ("audio", "transcribe", "diarize", "levels", "roles", "metrics")


VIDEO_STAGES = ("faces", "people", "render", "audit")
STAGES = ("probe",) + AUDIO_STAGES + VIDEO_STAGES


# results a stage keeps beside its own: "question_lm" (the question-LM score per sentence) by "metrics", so that a role
# correction recomputes the metrics without loading the model; not a stage of its own (nothing runs it alone)
# "uptake": the uptake score per pupil -> teacher exchange (with Whisper's decoder state), also by "metrics";
# "bodies" (positions for the movement measures) by "faces"; "rendition" (what the video was rendered with) by either
AUX_RESULTS = ("question_lm", "uptake", "bodies", "rendition")


def load_info(store: Store, lesson_id: str) -> MediaInfo:
    return _load(store, lesson_id, "probe", MediaInfo)


def _load(store: Store, lesson_id: str, stage: str, cls):
    text = store.stage(lesson_id, stage)
    if text is None:
        raise PipelineError(f"stage {stage!r} has not run for this lesson")
    return serialize.loads(cls, text)


def load_analysis(store: Store, lesson_id: str) -> LessonAnalysis:
    info = load_info(store, lesson_id)
    return LessonAnalysis(
        duration_s=info.duration_s,
        transcript=_load(store, lesson_id, "transcribe", Transcript),
        diarization=_load(store, lesson_id, "diarize", Diarization),
        roles=_load(store, lesson_id, "roles", RoleAssignment),
        levels=_load(store, lesson_id, "levels", AudioLevels) if store.stage(lesson_id, "levels") else None,
    )


def load_metrics(store: Store, lesson_id: str):
    """The lesson's metrics (recomputed from the stored analysis if the cached copy is missing)."""
    from videocoach.measures.metrics import LessonMetrics

    text = store.stage(lesson_id, "metrics")
    if text is not None:
        try:
            return serialize.loads(LessonMetrics, text)
        except (TypeError, ValueError, KeyError):
            pass  # an older shape: recompute below
    metrics = _compute_metrics(store, lesson_id)
    store.save_stage(lesson_id, "metrics", serialize.dumps(metrics))
    return metrics


def _compute_metrics(
    store: Store, lesson_id: str, analysis: LessonAnalysis | None = None, lm_scores: dict[str, float] | None = None
):
    """The pure measures over the stored analysis; the question model is loaded here, not inside them.  The
    question-LM scores are ``lm_scores`` or else those the metrics stage stored (none stored, or from another LM:
    the model alone)."""
    from videocoach.measures.metrics import compute_metrics
    from videocoach.measures.question_model import default_question_model
    from videocoach.measures.uptake import default_uptake_model

    model = default_question_model()
    if lm_scores is None:
        lm_scores = _stored_lm_scores(store, lesson_id, model.lm_method)
    uptake = default_uptake_model()
    return compute_metrics(analysis or load_analysis(store, lesson_id), question_model=model, lm_scores=lm_scores,
                           uptake_scores=_stored_uptake_scores(store, lesson_id, uptake.method), uptake_model=uptake)


def _stored_uptake_scores(store: Store, lesson_id: str, method: str) -> dict[str, float] | None:
    """The uptake scores the metrics stage stored, if the shipped uptake model made them (else None: an exchange
    is then scored from its words alone)."""
    text = store.stage(lesson_id, "uptake")
    if text is None:
        return None
    data = json.loads(text)
    return {str(k): float(v) for k, v in data["scores"].items()} if data.get("method") == method else None


def _stored_lm_scores(store: Store, lesson_id: str, method: str | None) -> dict[str, float] | None:
    text = store.stage(lesson_id, "question_lm")
    if text is None or method is None:
        return None
    data = json.loads(text)
    return {str(k): float(v) for k, v in data["scores"].items()} if data.get("method") == method else None


# the lesson's audio as the stages read it, one read-only copy while any stage holds it: the transcription and the
# diariser's lanes run side by side (50 minutes: 192 MB each, the decoded file as much again while it is read)
_AUDIO: "weakref.WeakValueDictionary[tuple, np.ndarray]" = weakref.WeakValueDictionary()
_AUDIO_LOCK = threading.Lock()


def load_audio(store: Store, lesson_id: str) -> np.ndarray:
    """The lesson's 16 kHz mono audio, read-only (shared between the stages that hold it at the same time)."""
    import soundfile as sf

    path = store.media_path(lesson_id, "audio")
    if path is None:
        raise PipelineError("the lesson's audio has not been extracted yet")
    stat = Path(path).stat()
    key = (lesson_id, str(path), stat.st_size, stat.st_mtime_ns)  # a new extraction is another key
    with _AUDIO_LOCK:
        data = _AUDIO.get(key)
        if data is None:
            data, rate = sf.read(io.BytesIO(store.vault.read_bytes(path)), dtype="float32")
            if rate != 16000:
                raise PipelineError(f"stored audio has rate {rate}, expected 16000")
            data = data if data.ndim == 1 else data.mean(axis=1)
            data.flags.writeable = False
            _AUDIO[key] = data
    return data


# -- the stages --------------------------------------------------------------------------------------------------------------
StageFn = Callable[[Store, Lesson, AnalyseOptions, Progress], None]


def _stage_audio(store: Store, lesson: Lesson, options: AnalyseOptions, progress: Progress) -> None:
    from videocoach.av import media

    info = load_info(store, lesson.id)
    if not info.has_audio:
        raise PipelineError("this video has no audio track, so there is nothing to transcribe")
    with store.media_plaintext(lesson.id, "original") as plain, tempfile.TemporaryDirectory(dir=store.work_dir) as tmp:
        wav = Path(tmp) / "audio.wav"
        media.extract_audio(plain, wav, info, limits=upload_limits(store), progress=lambda s, f: progress("audio", f))
        store.put_media_file(lesson.id, "audio", wav)
    store.save_stage(lesson.id, "audio", json.dumps({"sample_rate": 16000}))


def _stage_transcribe(store: Store, lesson: Lesson, options: AnalyseOptions, progress: Progress) -> None:
    from videocoach.audio.transcribe import AsrConfig, cached_asr

    audio = load_audio(store, lesson.id)
    # cached: the background worker keeps one ASR model loaded across lessons
    model = cached_asr(AsrConfig(engine=options.asr_engine, model=options.asr_model))  # type: ignore[arg-type]
    transcript = model.transcribe(audio, progress=lambda s, f: progress("transcribe", f))
    store.save_stage(lesson.id, "transcribe", serialize.dumps(transcript))


def _stage_diarize(store: Store, lesson: Lesson, options: AnalyseOptions, progress: Progress) -> None:
    from videocoach.audio.diarize import DiarizeConfig, load_diarizer

    audio = load_audio(store, lesson.id)
    # with the user's pyannote pipeline, only the voice windows come from here: segmentation-3.0 is not needed
    diarizer = load_diarizer(DiarizeConfig(num_speakers=options.num_speakers,
                                           segmentation=not options.pyannote_config))
    if options.pyannote_config:
        # the user's own local pyannote pipeline decides who spoke when; the voice windows that roles compare
        # with the teacher's enrolled voice still come from the built-in encoder (one voice model for enrolment)
        from videocoach.audio.diarize_pyannote import PyannoteUnavailable, load_pyannote_diarizer

        try:
            diarization = load_pyannote_diarizer(options.pyannote_config).diarize(
                audio, progress=lambda s, f: progress("diarize", 0.8 * f))
        except PyannoteUnavailable as exc:
            raise PipelineError(str(exc)) from exc
        windows = diarizer.embed_windows(audio, progress=lambda s, f: progress("diarize", 0.8 + 0.2 * f))
    else:
        result = diarizer.run(audio, progress=lambda s, f: progress("diarize", f))
        diarization, windows = result.diarization, result.windows
    buf = io.BytesIO()
    np.savez(buf, spans=np.asarray(windows.spans, dtype=np.float64).reshape(-1, 2),
             embeddings=np.asarray(windows.embeddings, dtype=np.float32))
    store.put_media_bytes(lesson.id, "voice_windows", buf.getvalue())  # voice embeddings are personal data: sealed
    store.save_stage(lesson.id, "diarize", serialize.dumps(diarization))


def _stage_levels(store: Store, lesson: Lesson, options: AnalyseOptions, progress: Progress) -> None:
    from videocoach.audio.levels import compute_levels

    levels = compute_levels(load_audio(store, lesson.id))
    store.save_stage(lesson.id, "levels", serialize.dumps(levels))


def _voice_windows(store: Store, lesson_id: str) -> tuple[np.ndarray, np.ndarray]:
    path = store.media_path(lesson_id, "voice_windows")
    if path is None:
        raise PipelineError("voice embeddings missing: re-run diarisation")
    with np.load(io.BytesIO(store.vault.read_bytes(path))) as npz:
        return npz["spans"], npz["embeddings"]


def _enrol(store: Store, lesson: Lesson, options: AnalyseOptions):
    """The teacher's voice: from a span of this lesson, a sample file, or the one kept from an earlier lesson."""
    from videocoach.audio import roles

    if options.teacher_sample is None and not options.teacher_sample_file:
        kept = store.teacher_voice(lesson.owner_id)
        return serialize.loads(roles.TeacherVoice, kept) if kept is not None else None
    from videocoach.audio.diarize import DiarizeConfig, load_diarizer

    diarizer = load_diarizer(DiarizeConfig(segmentation=False))  # only embeds the sample
    if options.teacher_sample is not None:
        span = options.teacher_sample
        sample = roles.teacher_sample_from_span(load_audio(store, lesson.id), span)
        source = f"lesson {lesson.id[:8]} {span.start:.1f}-{span.end:.1f} s"
    else:
        from videocoach.av import media

        sample_path = Path(options.teacher_sample_file or "")
        with tempfile.TemporaryDirectory(dir=store.work_dir) as tmp:
            wav = media.extract_audio(sample_path, Path(tmp) / "teacher.wav", media.probe(sample_path, upload_limits(store)))
            sample = media.load_wav(wav)
        source = f"voice sample {sample_path.name}"
    try:
        voice = roles.enrol_teacher(diarizer, sample, source=source)
    except ValueError as exc:
        raise PipelineError(f"the teacher sample could not be used: {exc}") from exc
    store.save_teacher_voice(lesson.owner_id, serialize.dumps(voice))  # kept for this teacher's later lessons
    return voice


def _stage_roles(store: Store, lesson: Lesson, options: AnalyseOptions, progress: Progress) -> None:
    from videocoach.audio import roles

    diarization = _load(store, lesson.id, "diarize", Diarization)
    spans, embeddings = _voice_windows(store, lesson.id)
    voice = _enrol(store, lesson, options)
    given = options.teacher_sample is not None or bool(options.teacher_sample_file)
    if voice is not None and not given and embeddings.ndim == 2 and voice.as_array().size != embeddings.shape[1]:
        # The kept voice was enrolled with an older voice model: guess instead, and say so on the lesson.
        voice = None
        store.update_lesson(lesson.id, settings={
            **store.lesson(lesson.id).settings,
            "roles_note": "the kept teacher voice was enrolled with an older voice model, so the teacher was "
                          "guessed: check “Who is the teacher?”, and give a teacher sample with the next lesson "
                          "(--teacher-sample) to enrol the voice again",
        })
    assignment = roles.assign_roles(diarization, spans, embeddings, voice)
    store.save_stage(lesson.id, "roles", serialize.dumps(assignment))


def _stage_metrics(store: Store, lesson: Lesson, options: AnalyseOptions, progress: Progress) -> None:
    """The question-LM score of every sentence of the transcript (``question_lm``: the probe's log-odds over Whisper's
    decoder state after the sentence's words; kept as the "question_lm" result so
    that a role correction recomputes the metrics without the model; a sentence scored before is not scored again),
    then the pure measures."""
    from videocoach.audio.question_lm import QuestionLMConfig, question_lm_scores
    from videocoach.measures.question_model import default_question_model
    from videocoach.measures.metrics import MetricsSettings
    from videocoach.measures.sentences import split_sentences

    analysis = load_analysis(store, lesson.id)
    model = default_question_model()
    method = model.lm_method
    scores = None
    if method is not None and model.lm_probe is not None:
        config = QuestionLMConfig()
        if config.method != model.lm_decoder:
            raise PipelineError(f"the question LM's probe was fitted on {model.lm_decoder}, not {config.method}")
        progress("metrics", 0.0)
        # the sentences compute_metrics will cut (their texts do not depend on the turns)
        pause_s = MetricsSettings().questions.pause_split_s
        texts = [s.text for s in split_sentences(analysis.transcript.utterances, pause_split_s=pause_s)]
        scores = question_lm_scores(texts, model.lm_probe, config, known=_stored_lm_scores(store, lesson.id, method))
        store.save_stage(lesson.id, "question_lm", json.dumps({"method": method, "scores": scores}, sort_keys=True))
    _uptake_scores(store, lesson.id, analysis)
    metrics = _compute_metrics(store, lesson.id, analysis, scores)
    store.save_stage(lesson.id, "metrics", serialize.dumps(metrics))


def _uptake_scores(store: Store, lesson_id: str, analysis: LessonAnalysis) -> None:
    """Score every pupil -> teacher exchange for uptake with Whisper's decoder state (``audio.uptake_lm``) and keep
    the scores as the "uptake" result; exchanges scored before (same model) are not scored again.  A role correction
    that makes new exchanges leaves those to the words-only model until the stage runs again."""
    from videocoach.audio.uptake_lm import uptake_scores
    from videocoach.measures.metrics import MetricsSettings
    from videocoach.measures.sentences import split_sentences
    from videocoach.measures.uptake import default_uptake_model, find_exchanges

    model = default_uptake_model()
    settings = MetricsSettings()
    sentences = split_sentences(analysis.transcript.utterances, analysis.role_turns(),
                                settings.questions.pause_split_s)
    pairs = [(e.pupil_text, e.teacher_text) for e in find_exchanges(sentences, settings.uptake)]
    scores = uptake_scores(pairs, model, known=_stored_uptake_scores(store, lesson_id, model.method))
    store.save_stage(lesson_id, "uptake", json.dumps({"method": model.method, "scores": scores}, sort_keys=True))


def _stage_faces(store: Store, lesson: Lesson, options: AnalyseOptions, progress: Progress) -> None:
    """Detection, rendering and the audit in ONE decode of the original (``privacy.onepass``): saves the "faces",
    "render" and "audit" results together (the run then skips "render" and "audit"), and the people step's face
    descriptors, gathered from the same decoded frames.  When the owner has enrolled their face, the rendering
    would be thrown away (the people step shows them, so "render" runs again): this pass then only detects."""
    from videocoach import people_steps

    enrolled = bool(people_steps.enrolled_face(store, lesson.owner_id))
    _redact(store, lesson, progress, detect=True, render=not (enrolled and lesson_policy(lesson).hide_faces))


def _stage_people(store: Store, lesson: Lesson, options: AnalyseOptions, progress: Progress) -> None:
    from videocoach import people_steps

    people_steps.stage_people(store, lesson, lesson_policy(lesson), progress)
    if _teacher_track_ids(store, lesson.id):  # the enrolled teacher was found: render again with them shown
        store.clear_stages(lesson.id, ["render", "audit"])


def _teacher_track_ids(store: Store, lesson_id: str) -> frozenset[int]:
    """Tracks shown because they match the teacher's enrolled face (the people stage); none without one."""
    text = store.stage(lesson_id, "people")
    return frozenset(int(t) for t in json.loads(text)["teacher_track_ids"]) if text else frozenset()


def _shown_tracks(store: Store, lesson_id: str) -> tuple[frozenset[int], frozenset[int]]:
    """(the tracks left visible: marked ones and the enrolled teacher's; the teacher's among them, which the audit
    exempts -- a consented pupil's visible face is still audited)."""
    marks = store.face_marks(lesson_id)
    enrolled = _teacher_track_ids(store, lesson_id)
    teacher = frozenset(t for t, label in marks.items() if label == "teacher") | enrolled
    return frozenset(marks) | enrolled, teacher


def _stage_render(store: Store, lesson: Lesson, options: AnalyseOptions, progress: Progress) -> None:
    """A re-render with the saved face tracks (after a face mark or a policy change that keeps detection), audited
    in the same pass: saves "render" and "audit".  Only the stretches the change reaches are rendered again and
    spliced into the previous rendition (``privacy.splice``); whenever that cannot be done, the whole lesson."""
    from videocoach.privacy import redact, second_opinion, splice

    text = store.stage(lesson.id, "rendition")
    if text is not None and store.media_path(lesson.id, "redacted") is not None:  # else: rendered whole below
        info, pol = load_info(store, lesson.id), lesson_policy(lesson)
        tracks = _load(store, lesson.id, "faces", redact.FaceTracks)
        visible, teacher = _shown_tracks(store, lesson.id)
        crops_at = store.media_path(lesson.id, "audit_crops")  # the findings' crops, sealed; gone once cleared
        crops = json.loads(store.vault.read_bytes(crops_at)) if crops_at is not None else []
        try:
            was = splice.load_rendition(text)
            with (store.media_plaintext(lesson.id, "original") as plain,
                  store.media_plaintext(lesson.id, "redacted", suffix=".mp4") as previous,
                  tempfile.TemporaryDirectory(dir=store.work_dir) as tmp):
                out = Path(tmp) / "redacted.mp4"
                done = splice.rerender_changed(plain, info, pol, tracks, previous, was, crops, visible, teacher, out,
                                               progress, findings_filter=second_opinion.load().filter_findings)
                rendition = splice.rendition_of(pol, tracks, plain, out if done.stretches else previous, visible,
                                                teacher, done.render, done.audit)
                if done.stretches:
                    store.put_media_file(lesson.id, "redacted", out)  # one step: never half-replaced
        except splice.SpliceError as exc:
            store.audit(None, "render.full", lesson.id, f"re-rendering the whole lesson: {str(exc)[:200]}")
        else:
            store.save_stage(lesson.id, "rendition", serialize.dumps(rendition))
            store.save_stage(lesson.id, "render", serialize.dumps(done.render))
            _save_audit(store, lesson.id, dataclasses.replace(done.audit, findings=tuple(
                dataclasses.replace(f, crop_png_b64=c) for f, c in zip(done.audit.findings, done.crops))))
            return
    _redact(store, lesson, progress, detect=False)


def _redact(store: Store, lesson: Lesson, progress: Progress, *, detect: bool, render: bool = True) -> None:
    """One decode of the original: detection (``detect``; the people step's face descriptors gathered on the way),
    then unless ``render`` is False, the rendering and its audit."""
    from videocoach import people_steps
    from videocoach.privacy import bodies, embed_process, onepass, people, redact, second_opinion, splice

    info = load_info(store, lesson.id)
    pol = lesson_policy(lesson)
    tracks = None if detect else _load(store, lesson.id, "faces", redact.FaceTracks)
    gather = None
    # a new detection run numbers tracks afresh: no earlier mark applies to it (clear_stages drops them), and the
    # people stage has not yet found the teacher: everything is hidden until it has
    if detect:
        store.clear_stages(lesson.id, ["faces", "people", "render", "audit", "rendition", people_steps.BODIES])
        store.delete_media(lesson.id, people_steps.TRACK_FACES)
        if not render:
            store.delete_media(lesson.id, "redacted")  # an earlier rendition never outlives its tracks
            if pol.hide_faces:  # the enrolled teacher's flow: the render follows the people step
                people_steps.detect_only(store, lesson, info, pol, progress)
                return
        visible = teacher = frozenset()
        if pol.hide_faces:
            gather = people.TrackFaces(None, onepass.hold_s(pol, info.fps), process=embed_process.shared())
            found = bodies.BodySampler(info.width, info.height)  # positions for the movement measures only
    else:
        visible, teacher = _shown_tracks(store, lesson.id)
    with store.media_plaintext(lesson.id, "original") as plain, tempfile.TemporaryDirectory(dir=store.work_dir) as tmp:
        out = Path(tmp) / "redacted.mp4" if render else None
        result = onepass.redact_in_one_pass(plain, info, pol, out, progress, tracks=tracks, visible_track_ids=visible,
                                            exempt_track_ids=teacher,
                                            on_detections=None if gather is None else people_steps.both(gather, found),
                                            findings_filter=second_opinion.load().filter_findings)
        if render:
            # what it was rendered with: the next change of marks re-renders only what differs (``_stage_render``)
            rendition = splice.rendition_of(pol, result.tracks, plain, out, visible, teacher, result.render,
                                            result.audit)
            store.put_media_file(lesson.id, "redacted", out)
    if gather is not None:
        descs, thumbs = gather.result(result.tracks)
        store.put_media_bytes(lesson.id, people_steps.TRACK_FACES, people.track_faces_to_json(descs, thumbs))
        store.save_stage(lesson.id, people_steps.BODIES, found.result().to_json())
    if detect:
        store.save_stage(lesson.id, "faces", serialize.dumps(result.tracks))
    if not render:
        return  # the "render" stage renders and audits, once the people step has run
    store.save_stage(lesson.id, "rendition", serialize.dumps(rendition))
    store.update_lesson(lesson.id, policy_name=pol.name, policy_version=pol.version)
    store.save_stage(lesson.id, "render", serialize.dumps(result.render))
    _save_audit(store, lesson.id, result.audit)


def _stage_audit(store: Store, lesson: Lesson, options: AnalyseOptions, progress: Progress) -> None:
    """The audit alone, on the encoded rendition decoded again (the rendering pass normally audits as it encodes)."""
    from videocoach.privacy import redact, second_opinion

    pol = lesson_policy(lesson)
    tracks = _load(store, lesson.id, "faces", redact.FaceTracks)
    visible, teacher = _shown_tracks(store, lesson.id)

    with store.media_plaintext(lesson.id, "redacted", suffix=".mp4") as plain:
        report = redact.audit(plain, tracks, visible, pol, progress=lambda s, f: progress("audit", f),
                              exempt_track_ids=teacher, findings_filter=second_opinion.load().filter_findings)
    _save_audit(store, lesson.id, report)


def _save_audit(store: Store, lesson_id: str, report) -> None:
    # The crops may show a pupil's face: they go sealed into the vault, not into the (unencrypted) database,
    # and are deleted once a reviewer has cleared them.
    crops = [f.crop_png_b64 for f in report.findings]
    store.delete_media(lesson_id, "audit_crops")
    if any(crops):
        store.put_media_bytes(lesson_id, "audit_crops", json.dumps(crops).encode())
    report = dataclasses.replace(report, findings=tuple(dataclasses.replace(f, crop_png_b64="") for f in report.findings))
    store.save_stage(lesson_id, "audit", serialize.dumps(report))


def audit_crops(store: Store, lesson_id: str) -> list[bytes]:
    """The sealed frame crops of the audit's findings (PNG), in finding order; empty once cleared."""
    import base64

    path = store.media_path(lesson_id, "audit_crops")
    if path is None:
        return []
    return [base64.b64decode(c) if c else b"" for c in json.loads(store.vault.read_bytes(path))]


STAGE_FUNCTIONS: dict[str, StageFn] = {
    "audio": _stage_audio,
    "transcribe": _stage_transcribe,
    "diarize": _stage_diarize,
    "levels": _stage_levels,
    "roles": _stage_roles,
    "metrics": _stage_metrics,
    "faces": _stage_faces,
    "people": _stage_people,
    "render": _stage_render,
    "audit": _stage_audit,
}


def pending_stages(store: Store, lesson_id: str, options: AnalyseOptions | None = None) -> list[str]:
    lesson = store.lesson(lesson_id)
    options = options or options_of(lesson)
    info = load_info(store, lesson_id)
    wanted = list(AUDIO_STAGES) if info.has_audio else []
    if options.redact and info.has_video:
        wanted += list(VIDEO_STAGES)
    done = set(store.finished_stages(lesson_id))
    return [s for s in wanted if s not in done]


def stale_stages(store: Store, lesson_id: str) -> list[str]:
    """Finished stages whose result a newer release computes differently and a re-run refreshes: "levels" and
    "metrics" when the stored levels have no babble series (analysed before the detector); "metrics" when its
    question-LM scores were made by another LM than the shipped one (a lesson analysed before an upgrade: until
    then its questions are decided by the question model alone), or its uptake scores are missing or from another
    uptake model (until then: none, or the words-only part).  Not "pending": the lesson stays ready meanwhile."""
    from videocoach.measures.question_model import default_question_model

    from videocoach.measures.uptake import default_uptake_model

    finished = store.finished_stages(lesson_id)
    # levels stored before the babble detector: recompute them (cheap: no speech model but Silero) and the metrics
    levels_text = store.stage(lesson_id, "levels") if "levels" in finished and "metrics" in finished else None
    if levels_text is not None:
        levels = serialize.loads(AudioLevels, levels_text)
        if levels.rms_dbfs and not levels.babble_prob:
            return ["levels", "metrics"]
    method = default_question_model().lm_method
    if "metrics" not in finished:
        return []
    lm_stale = method is not None and _stored_lm_scores(store, lesson_id, method) is None
    # uptake scores missing or from another uptake model: re-run so that they come with the decoder state
    uptake_stale = _stored_uptake_scores(store, lesson_id, default_uptake_model().method) is None
    return ["metrics"] if lm_stale or uptake_stale else []


def run(store: Store, lesson_id: str, *, progress: Progress = no_progress, stages: Sequence[str] | None = None) -> Lesson:
    """Run every unfinished (or stale) stage of a lesson, in order; resumable; raises PipelineError with a user
    message."""
    from videocoach.core.heap import limit_arenas
    from videocoach.storage.records import LessonBusy

    limit_arenas()  # before the lanes' threads allocate (core/heap.py)
    try:
        with store.lesson_lock(lesson_id):
            store.remove_orphan_media(lesson_id)  # left by a process killed mid-write
            return _run_locked(store, lesson_id, progress, stages)
    except LessonBusy as exc:
        raise PipelineError(str(exc)) from exc


def _run_locked(store: Store, lesson_id: str, progress: Progress, stages: Sequence[str] | None) -> Lesson:
    """The stages side by side (``overlap.plan``): the transcription beside the other audio stages, the video
    stages beside them all, so the statistics are viewable as soon as the audio stages end."""
    from videocoach import overlap

    options = options_of(store.lesson(lesson_id))
    if stages is not None:
        todo = list(stages)
    else:
        todo = pending_stages(store, lesson_id, options)
        todo += [s for s in stale_stages(store, lesson_id) if s not in todo]
    store.update_lesson(lesson_id, status="processing", error=None)
    settings = store.settings

    def run_stages(own_thread: bool, names: Sequence[str], stage_progress: Progress) -> None:
        # a thread of its own opens its own connection; not closed with own.close(): that removes this process's
        # work folder when it is empty for a moment, under the other threads' feet (it closes with the object)
        _run_stages(Store(settings) if own_thread else store, lesson_id, options, names, stage_progress,
                    skip_done=stages is None)

    try:
        overlap.run_plan(overlap.plan(todo, VIDEO_STAGES, side_by_side=stages is None), run_stages, progress,
                         video_nice=settings.video_nice)
    except Exception as exc:
        message = _user_message(exc)
        store.update_lesson(lesson_id, status="failed", error=message)
        raise PipelineError(message) from exc
    except BaseException:  # Ctrl-C: finished stages are kept; the lesson can be resumed
        store.update_lesson(lesson_id, status="interrupted", error="interrupted; run again to resume")
        raise
    return _settle_status(store, lesson_id)


def _run_stages(store: Store, lesson_id: str, options: AnalyseOptions, names: Sequence[str], progress: Progress,
                *, skip_done: bool) -> None:
    """Run ``names`` in order; with ``skip_done`` a stage an earlier one finished on the way is skipped (the
    rendering pass saves "render" and "audit" with "faces")."""
    for name in names:
        if skip_done and name in VIDEO_STAGES and name in store.finished_stages(lesson_id):
            continue
        progress(name, 0.0)
        STAGE_FUNCTIONS[name](store, store.lesson(lesson_id), options, progress)
        progress(name, 1.0)


def _settle_status(store: Store, lesson_id: str) -> Lesson:
    """ready, or blocked while the redaction audit has unreviewed findings (nothing plays then)."""
    status = "ready"
    audit_text = store.stage(lesson_id, "audit")
    if audit_text is not None:
        findings = json.loads(audit_text).get("findings") or []
        reviewed = store.lesson(lesson_id).settings.get("audit_cleared_at")
        if findings and not reviewed:
            status = "blocked"
            cleared = set(store.lesson(lesson_id).settings.get("audit_cleared_pixels") or [])
            if still_cleared(findings, json.loads(audit_text).get("finding_count", -1), cleared):
                status = "ready"  # every finding is one a reviewer cleared before, its pixels unchanged
                settings = dict(store.lesson(lesson_id).settings)
                settings["audit_cleared_at"] = time.time()
                store.update_lesson(lesson_id, settings=settings)
                store.audit(None, "audit.clear", lesson_id, "findings cleared before, pixels unchanged by the re-render")
    if pending_stages(store, lesson_id):
        status = "processing"
    return store.update_lesson(lesson_id, status=status)


def still_cleared(findings: Sequence[dict], finding_count: int, cleared_pixels: set[str]) -> bool:
    """Every finding of an audit was cleared by a reviewer before, with the same pixels at the same time (a finding
    without a pixel hash, or an audit that listed only some of its findings, never is)."""
    return (bool(findings) and finding_count == len(findings)
            and all(f.get("pixels_sha256") and f["pixels_sha256"] in cleared_pixels for f in findings))


def _cleared_pixels(store: Store, lesson_id: str) -> list[str]:
    """The pixel hashes of the findings cleared so far, with the current audit's if a reviewer cleared it."""
    settings = store.lesson(lesson_id).settings
    kept = set(settings.get("audit_cleared_pixels") or [])
    text = store.stage(lesson_id, "audit")
    if text is not None and settings.get("audit_cleared_at"):
        kept |= {f["pixels_sha256"] for f in json.loads(text).get("findings") or [] if f.get("pixels_sha256")}
    return sorted(kept)


def _user_message(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300] if len(text) > 2000 else text[:2000]


# -- corrections that recompute -------------------------------------------------------------------------------------------
def set_teacher_speakers(store: Store, user: User, lesson_id: str, speakers: Sequence[str]):
    """A reviewer says which diarisation speakers are the teacher; metrics recompute, ASR is not re-run."""
    store.require_access(user, lesson_id, "roles.correct")
    diarization = _load(store, lesson_id, "diarize", Diarization)
    unknown = set(speakers) - set(diarization.speakers)
    if unknown:
        raise ValueError(f"unknown speakers: {sorted(unknown)}")
    assignment = RoleAssignment(frozenset(speakers), 1.0, "manual")
    store.save_stage(lesson_id, "roles", serialize.dumps(assignment))
    settings = dict(store.lesson(lesson_id).settings)
    if settings.pop("roles_note", None) is not None:
        store.update_lesson(lesson_id, settings=settings)
    metrics = _compute_metrics(store, lesson_id)
    store.save_stage(lesson_id, "metrics", serialize.dumps(metrics))
    store.audit(user.id, "roles.correct", lesson_id, f"teacher={','.join(sorted(speakers))}")
    return metrics


def rerender(
    store: Store, lesson_id: str, *, policy_name: str | None = None, consent_record: str | None = None,
    progress: Progress = no_progress,
) -> Lesson:
    """Render the redacted rendition again (after a face mark or a policy change), then audit it again."""
    if policy_name is not None:
        from videocoach.privacy import policy

        pol = policy.load_policy(policy_name, consent_record=consent_record)
        settings = dict(store.lesson(lesson_id).settings)
        settings["policy"] = policy.policy_to_dict(pol)
        store.update_lesson(lesson_id, policy_name=pol.name, policy_version=pol.version, settings=settings)
        store.clear_stages(lesson_id, ["faces"])  # detection settings live in the policy
    cleared = _cleared_pixels(store, lesson_id)  # what a reviewer cleared stays cleared while its pixels are unchanged
    settings = dict(store.lesson(lesson_id).settings)
    settings.pop("audit_cleared_at", None)
    settings["audit_cleared_pixels"] = cleared
    store.update_lesson(lesson_id, settings=settings)
    store.clear_stages(lesson_id, ["render", "audit"])
    return run(store, lesson_id, progress=progress)


def analyse(
    store: Store, owner: User, path: Path, *, title: str = "", policy_name: str | None = None,
    options: AnalyseOptions = AnalyseOptions(), progress: Progress = no_progress, consent_record: str | None = None,
) -> Lesson:
    lesson = ingest_file(store, owner, path, title=title, policy_name=policy_name, options=options,
                         consent_record=consent_record)
    return run(store, lesson.id, progress=progress)


__all__ = [
    "AUDIO_STAGES", "STAGES", "VIDEO_STAGES", "AnalyseOptions", "PipelineError", "analyse", "audit_crops",
    "audit_policy_choice", "file_sha256", "find_same_upload", "ingest_file", "ingest_stream", "lesson_policy",
    "load_analysis", "load_audio", "load_info", "load_metrics", "options_of", "pending_stages", "rerender", "run",
    "set_teacher_speakers", "stale_stages", "upload_limits",
]
