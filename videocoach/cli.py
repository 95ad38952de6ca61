"""The `videocoach` command line.  Operator commands on the server: they act on the data directory directly.

Errors a user can act on (bad file, unknown lesson, refused access) print one line and exit 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

from videocoach.config import Settings
from videocoach.core.model import Span

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_LESSON = REPO_ROOT / "sample_media" / "lesson.mp4"
SAMPLE_SCRIPT = REPO_ROOT / "sample_media" / "lesson_script.json"
EXIT_USER_ERROR = 2


class CliError(Exception):
    """Printed as one line; exit code 2."""


# -- helpers -------------------------------------------------------------------------------------------------------------
def _store():
    from videocoach.storage.store import Store

    return Store(Settings.from_env())


def _tqdm_progress(disable: bool = False):
    """Adapt the (stage, fraction) progress callback to one tqdm bar per stage."""
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def progress(stage: str, fraction: float) -> None:
        bar = bars.get(stage)
        if bar is None:  # stages may run side by side (video beside audio): one open bar each
            bar = bars[stage] = tqdm(total=100, desc=f"{stage:>10}", unit="%", disable=disable,
                                     bar_format="{desc} |{bar}| {n:3.0f}% [{elapsed}<{remaining}]")
        bar.n = round(100 * min(max(fraction, 0.0), 1.0), 1)
        bar.refresh()
        if fraction >= 1.0:
            bar.close()

    def close() -> None:
        for bar in bars.values():
            bar.close()

    progress.close = close  # type: ignore[attr-defined]
    return progress


def _find_lesson(store, ref: str):
    ref = ref.strip().lower()
    matches = [l for l in store.all_lessons() if l.id.startswith(ref)] if len(ref) >= 4 else []
    if not matches:
        raise CliError(f"no lesson {ref!r} (see `videocoach lessons`)")
    if len(matches) > 1:
        raise CliError(f"{ref!r} matches {len(matches)} lessons; give more of the id")
    return matches[0]


def _user(store, name: str, role: str | None = None, create: bool = False):
    user = store.user_by_name(name)
    if user is None:
        if not create:
            raise CliError(f"no user {name!r} (create one with `videocoach user add {name} --role ...`)")
        user = store.add_user(name, role or "teacher", None)
        print(f"created {user.role} account {user.username!r} without a password "
              f"(set one with `videocoach user passwd {user.username}`)", file=sys.stderr)
    if role and user.role != role:
        raise CliError(f"{name!r} is a {user.role}, not a {role}")
    return user


def _parse_teacher_sample(value: str | None) -> tuple[Span | None, str | None]:
    if not value:
        return None, None
    if os.path.exists(value):
        return None, str(Path(value).resolve())
    parts = value.replace("–", "-").split("-")
    if len(parts) == 2:
        try:
            start, end = (_parse_time(p) for p in parts)
        except ValueError:
            pass
        else:
            if end - start < 2.0:
                raise CliError("a teacher sample needs at least 2 seconds of the teacher's voice")
            return Span(start, end), None
    raise CliError(f"--teacher-sample {value!r}: give START-END in seconds or m:ss (e.g. 12-18 or 0:12-0:18), "
                   "or an audio file of the teacher's voice")


def _parse_time(text: str) -> float:
    text = text.strip()
    if ":" in text:
        fields = [float(x) for x in text.split(":")]
        seconds = 0.0
        for f in fields:
            seconds = seconds * 60 + f
        return seconds
    return float(text)


def _fmt_time(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d}"


def print_summary(store, lesson_id: str, out=sys.stdout) -> None:
    from videocoach import pipeline

    lesson = store.lesson(lesson_id)
    print(f"Lesson {lesson.id[:8]}  {lesson.title!r}  {_fmt_time(lesson.duration_s)}  status: {lesson.status}", file=out)
    if lesson.error:
        print(f"  error: {lesson.error}", file=out)
    if store.stage(lesson_id, "roles") is None:
        return
    analysis = pipeline.load_analysis(store, lesson_id)
    roles = analysis.roles
    print(f"  speakers: {', '.join(analysis.diarization.speakers) or 'none'};  teacher: "
          f"{', '.join(sorted(roles.teacher_speakers)) or 'none'} ({roles.method}, confidence {roles.confidence:.2f})",
          file=out)
    if lesson.settings.get("roles_note"):
        print(f"  note: {lesson.settings['roles_note']}", file=out)
    metrics = pipeline.load_metrics(store, lesson_id)
    from videocoach.measures.figures import lesson_figures

    fig = lesson_figures(metrics, analysis.role_turns())  # the same figures the Pre-watch and Progress pages show
    print(f"  time: {fig.talk.sentence()};  turns: teacher {fig.teacher_turns}, pupils {fig.pupil_turns} "
          f"({fig.pupil_voices} pupil voice(s) told apart)", file=out)
    answered = "–" if fig.answered_percent is None else f"{fig.answered_percent} %"
    print(f"  teacher questions answered: {answered};  pupils engaged: {fig.pupils_engaged} of {fig.pupil_voices};  "
          f"longest teacher talk: "
          f"{_fmt_time(fig.longest_teacher_talk_s)}", file=out)
    questions = getattr(metrics, "questions", ())
    if questions:
        by = {}
        for q in questions:
            key = f"{q.role} {q.qtype}"
            by[key] = by.get(key, 0) + 1
        print(f"  questions: {len(questions)} (" + ", ".join(f"{v} {k}" for k, v in sorted(by.items())) + ")", file=out)
    activities = getattr(metrics, "activities", ())
    if activities:
        print("  activities: " + ", ".join(f"{a.label} {_fmt_time(a.start)}-{_fmt_time(a.end)}" for a in activities),
              file=out)
    render = store.stage(lesson_id, "render")
    if render:
        audit = json.loads(store.stage(lesson_id, "audit") or "{}")
        print(f"  redacted with policy {lesson.policy_name} v{lesson.policy_version}; audit findings: "
              f"{len(audit.get('findings') or [])}", file=out)


# -- commands ------------------------------------------------------------------------------------------------------------
def cmd_analyse(args) -> int:
    from videocoach import pipeline

    path = Path(args.lesson)
    if not path.is_file():
        raise CliError(f"{args.lesson}: no such file")
    sample_span, sample_file = _parse_teacher_sample(args.teacher_sample)
    if args.pyannote_config:
        from videocoach.audio import diarize_pyannote

        try:  # refused before anything is stored or invalidated
            diarize_pyannote.check_local_config(args.pyannote_config)
            diarize_pyannote.check_installed()
        except diarize_pyannote.PyannoteUnavailable as exc:
            raise CliError(str(exc)) from None
    options = pipeline.AnalyseOptions(
        asr_engine=args.asr, asr_model=args.model, teacher_sample=sample_span, teacher_sample_file=sample_file,
        num_speakers=args.num_speakers, redact=not args.no_redact,
        pyannote_config=str(Path(args.pyannote_config).resolve()) if args.pyannote_config else None,
    )
    store = _store()
    if store.user_by_name(args.owner) is None:
        from videocoach.av import media

        media.probe(path, pipeline.upload_limits(store))  # bad input fails here, before an account is made for it
    owner = _user(store, args.owner, "teacher", create=True)
    progress = _tqdm_progress(disable=args.quiet)
    lesson = pipeline.find_same_upload(store, owner, path)
    try:
        if lesson is not None:
            print(f"resuming lesson {lesson.id[:8]} (same file analysed before)", file=sys.stderr)
            if pipeline.options_of(lesson) != options:
                store.update_lesson(lesson.id, settings={**lesson.settings, **pipeline._options_to_settings(options)})
                _invalidate_for_options(store, lesson, options)
        else:
            lesson = pipeline.ingest_file(store, owner, path, title=args.title or "", policy_name=args.policy,
                                          options=options, consent_record=args.consent_record)
        pipeline.run(store, lesson.id, progress=progress)
    finally:
        progress.close()  # type: ignore[attr-defined]
    print_summary(store, lesson.id)
    return 0


def _invalidate_for_options(store, lesson, new) -> None:
    """Options changed on a re-run: drop the stages they affect so they run again (the rest is reused)."""
    from videocoach import pipeline

    stages = {"roles", "metrics"}  # cheap, and a new teacher sample changes them
    transcript = store.stage(lesson.id, "transcribe")
    if transcript and not json.loads(transcript).get("engine", "").startswith(f"{new.asr_engine}:{new.asr_model}"):
        stages.add("transcribe")
    if new.num_speakers is not None or new.pyannote_config != pipeline.options_of(lesson).pyannote_config:
        stages.add("diarize")
    store.clear_stages(lesson.id, sorted(stages))


def cmd_lessons(args) -> int:
    store = _store()
    lessons = store.all_lessons()
    if not lessons:
        print("no lessons stored")
        return 0
    for l in lessons:
        owner = store.user(l.owner_id).username
        print(f"{l.id[:8]}  {time.strftime('%Y-%m-%d %H:%M', time.localtime(l.created_at))}  {_fmt_time(l.duration_s):>6}"
              f"  {l.status:<11} {owner:<12} {l.title}")
    return 0


def cmd_show(args) -> int:
    store = _store()
    print_summary(store, _find_lesson(store, args.lesson).id)
    return 0


def cmd_export(args) -> int:
    from videocoach.storage import exports
    from videocoach import pipeline

    store = _store()
    lesson = _find_lesson(store, args.lesson)
    if store.stage(lesson.id, "roles") is None:
        raise CliError(f"lesson {lesson.id[:8]} has not been analysed yet (run `videocoach analyse`)")
    analysis = pipeline.load_analysis(store, lesson.id)
    fmt = args.format
    if fmt == "vtt":
        text = exports.to_webvtt(analysis.utterances())
    elif fmt == "srt":
        text = exports.to_srt(analysis.utterances())
    elif fmt == "rttm":
        text = exports.to_rttm(analysis, uri=lesson.id[:8])
    elif fmt == "json":
        text = exports.to_json(analysis, pipeline.load_metrics(store, lesson.id),
                               lesson={"id": lesson.id, "title": lesson.title, "duration_s": lesson.duration_s})
    else:
        text = exports.to_csv(pipeline.load_metrics(store, lesson.id))
    store.audit(None, "export", lesson.id, f"format={fmt} via cli")
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def cmd_roles(args) -> int:
    from videocoach import pipeline

    store = _store()
    lesson = _find_lesson(store, args.lesson)
    owner = store.user(lesson.owner_id)
    speakers = [s.strip() for s in args.teacher.split(",") if s.strip()]
    try:
        pipeline.set_teacher_speakers(store, owner, lesson.id, speakers)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    print_summary(store, lesson.id)
    return 0


def cmd_redact(args) -> int:
    from videocoach import pipeline

    store = _store()
    lesson = _find_lesson(store, args.lesson)
    progress = _tqdm_progress(disable=args.quiet)
    try:
        if args.consent_record:
            pipeline.audit_policy_choice(store, None, lesson.id, args.policy, args.consent_record, "command line")
        pipeline.rerender(store, lesson.id, policy_name=args.policy, consent_record=args.consent_record,
                          progress=progress)
    finally:
        progress.close()  # type: ignore[attr-defined]
    print_summary(store, lesson.id)
    return 0


def cmd_check_served(args) -> int:
    """The detector at its low threshold on every frame of the redacted video as served; exit 1 on a visible face."""
    from videocoach import pipeline
    from videocoach.core import serialize
    from videocoach.privacy import second_opinion, served_check
    from videocoach.privacy.redact import RenderReport
    from videocoach.privacy.tracking import FaceTracks

    store = _store()
    lesson = _find_lesson(store, args.lesson)
    render_text, faces_text = store.stage(lesson.id, "render"), store.stage(lesson.id, "faces")
    if render_text is None or faces_text is None or store.media_path(lesson.id, "redacted") is None:
        raise CliError(f"lesson {lesson.id[:8]} has no redacted video yet (run `videocoach analyse`)")
    render = serialize.loads(RenderReport, render_text)
    tracks = serialize.loads(FaceTracks, faces_text)
    pol = pipeline.lesson_policy(lesson)
    if (render.policy_name, render.policy_version) != (pol.name, pol.version):
        raise CliError(f"lesson {lesson.id[:8]} is being rendered again with another policy: check it afterwards")
    progress = _tqdm_progress(disable=args.quiet)
    # the original, while it is kept, tells a face the render missed from a pattern the hiding made
    with_original = not args.strict and "original" in store.media_kinds(lesson.id)
    try:
        with contextlib.ExitStack() as stack:
            plain = stack.enter_context(store.media_plaintext(lesson.id, "redacted", suffix=".mp4"))
            original = stack.enter_context(store.media_plaintext(lesson.id, "original")) if with_original else None
            result = served_check.check_served(
                plain, tracks, pol, visible_track_ids=frozenset(render.visible_track_ids),
                expected_frames=render.frames, progress=progress,
                second_opinion=second_opinion.load().served_face_like, original=original)
    except served_check.ServedCheckError as exc:
        raise CliError(f"not checked, treat the video as not passed: {exc}") from exc
    finally:
        progress.close()  # type: ignore[attr-defined]
    if result.skipped_reason:
        print(f"not checked: {result.skipped_reason}")
        return 0
    store.audit(None, "served.check", lesson.id,
                f"frames={result.frames_checked} visible={result.frames_with_visible_face} via cli")
    face_like = [h for h in result.hits if h.face_like]
    print(f"{result.frames_checked} frames checked (every frame, face detector at {result.threshold}): "
          f"{result.frames_with_face_like_hit} with a possibly visible face")
    if result.original_checked:
        print(f"{result.no_face_in_original} weak detections were not faces in the original recording (the hiding or "
              f"the encoding made the spot face-like; {result.frames_with_detection_left} frames had one before the "
              "original was looked at)")
    else:
        print("the original recording was not looked at: every detection left counts")
    for hit in face_like:
        print(f"  {_fmt_time(hit.t_s)} ({hit.t_s:.2f} s)  box {[round(v) for v in hit.box]}  score {hit.score:.2f}")
    if result.hit_count > len(result.hits):
        print(f"  (only the first {len(result.hits)} of {result.hit_count} detections outside hidden areas were kept)")
    others = result.frames_with_visible_face - result.frames_with_face_like_hit
    if others > 0:
        print(f"{others} more frames with a weak detection outside the hidden areas that a closer look does not take "
              "for a face (hands, necklines, the edge of a hidden face)")
    return 0 if result.passed else 1


def cmd_user(args) -> int:
    from videocoach.storage import auth

    store = _store()
    if args.user_cmd == "list":
        for u in store.users():
            print(f"{u.username:<20} {u.role}")
        return 0
    password = _read_password(args)
    try:
        if args.user_cmd == "add":
            user = auth.create_user(store, args.name, args.role, password, args.display_name or "")
            print(f"created {user.role} {user.username!r}")
        else:
            user = _user(store, args.name)
            store.set_password_hash(user.id, auth.hash_password(password))
            print(f"password set for {user.username!r}")
    except (auth.AuthError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    return 0


def _read_password(args) -> str:
    if getattr(args, "password_env", None):
        value = os.environ.get(args.password_env)
        if not value:
            raise CliError(f"environment variable {args.password_env} is empty")
        return value
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise CliError("the passwords differ")
    return first


def cmd_share(args) -> int:
    store = _store()
    lesson = _find_lesson(store, args.lesson)
    owner = store.user(lesson.owner_id)
    coach = _user(store, args.coach, "coach")
    if args.withdraw:
        store.unshare(owner, lesson.id, coach)
        print(f"lesson {lesson.id[:8]} no longer shared with {coach.username}")
    else:
        store.share(owner, lesson.id, coach)
        print(f"lesson {lesson.id[:8]} shared with {coach.username}")
    return 0


def cmd_delete(args) -> int:
    store = _store()
    lesson = _find_lesson(store, args.lesson)
    store.delete_lesson(None, lesson.id, "deleted by operator (cli)")
    print(f"lesson {lesson.id[:8]} erased")
    return 0


def cmd_worker(args) -> int:
    from videocoach import tasks, worker

    settings = Settings.from_env()
    if args.once:
        worker.work(settings, once=True)
        return 0
    return tasks.serve(settings)


def cmd_app(args) -> int:
    from videocoach import worker

    settings = Settings.from_env()
    _store().close()  # creates the data dir, key and schema before anything else touches them
    external = os.environ.get("VIDEOCOACH_WORKER", "auto").strip().lower() == "external"
    running_before = worker.worker_pid(settings)
    started = None if external else worker.ensure_worker(settings)
    argv = [sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "app.py"), "--server.port", str(args.port),
            "--server.address", args.address, "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    env = dict(os.environ, VIDEOCOACH_DATA=str(settings.data_dir), VIDEOCOACH_KEY_FILE=str(settings.key_file))
    app = None
    try:  # from here on a Ctrl-C, however early, still stops the worker below
        app = subprocess.Popen(argv, env=env, cwd=REPO_ROOT)
        print(f"videocoach: open http://{args.address}:{args.port}  (Ctrl-C stops the app and its background worker)",
              file=sys.stderr)
        return app.wait()
    except KeyboardInterrupt:  # Ctrl-C reached streamlit too (same process group): let it shut down cleanly
        if app is not None:
            _end(app)
        return 130
    finally:
        _stop_worker_on_exit(settings, started, running_before, external)


def _end(app: subprocess.Popen, grace_s: float = 10.0) -> None:
    """Streamlit after a Ctrl-C: its own clean shutdown, else SIGTERM, else SIGKILL -- a Ctrl-C while it is still
    starting (its handlers set, its event loop not yet running) left it waiting forever on a SIGTERM (CI, stop 24)."""
    for stop in (None, app.terminate, app.kill):
        if stop is not None:
            stop()
        try:
            app.wait(timeout=grace_s)
            return
        except subprocess.TimeoutExpired:
            continue
    app.wait()


def _stop_worker_on_exit(settings, started, running_before: int | None, external: bool) -> None:
    """The app is gone: stop the worker it started (or one the app itself started), and say so; a worker that ran
    before the app (a service, another app) keeps running, and we say how to stop it."""
    from videocoach import worker

    if external or running_before is not None:
        pid = worker.worker_pid(settings)
        if pid is not None:
            print(f"videocoach: the background worker (pid {pid}) was running before this app and keeps running; "
                  f"stop it with `kill {pid}`", file=sys.stderr)
        return
    pid = worker.stop_worker(settings, started)
    if pid is not None:
        print(f"videocoach: stopped the background worker (pid {pid}); a job it was running resumes at the next "
              "start", file=sys.stderr)


def cmd_demo(args) -> int:
    """Analyse the bundled sample lesson into demo accounts (once), then open the app."""
    from videocoach.storage import auth
    from videocoach import pipeline

    store = _store()
    teacher = store.user_by_name("teacher")
    if teacher is None:
        teacher = auth.create_user(store, "teacher", "teacher", "teacher-demo", "Ms Rivera (demo teacher)")
        print("created demo teacher: user 'teacher', password 'teacher-demo'", file=sys.stderr)
    coach = store.user_by_name("coach")
    if coach is None:
        coach = auth.create_user(store, "coach", "coach", "coach-demo", "Mr Okafor (demo coach)")
        print("created demo coach: user 'coach', password 'coach-demo'", file=sys.stderr)
    lesson = pipeline.find_same_upload(store, teacher, SAMPLE_LESSON)
    if lesson is None:
        script = json.loads(SAMPLE_SCRIPT.read_text()) if SAMPLE_SCRIPT.exists() else {}
        sample = script.get("teacher_sample")
        options = pipeline.AnalyseOptions(teacher_sample=Span(sample["start"], sample["end"]) if sample else None)
        lesson = pipeline.ingest_file(store, teacher, SAMPLE_LESSON, title="Sample lesson: melting ice",
                                      options=options)
        store.share(teacher, lesson.id, coach)
    if pipeline.pending_stages(store, lesson.id) or pipeline.stale_stages(store, lesson.id):
        progress = _tqdm_progress(disable=args.quiet)
        try:
            pipeline.run(store, lesson.id, progress=progress)
        finally:
            progress.close()  # type: ignore[attr-defined]
    print_summary(store, lesson.id)
    if args.no_app:
        return 0
    return cmd_app(args)


def cmd_purge(args) -> int:
    from videocoach import retention

    store = _store()
    erased = retention.purge_expired(store, now=time.time())
    print(f"erased {len(erased)} expired lesson(s)")
    return 0


def cmd_export_my_data(args) -> int:
    from videocoach import retention

    store = _store()
    user = _user(store, args.user)
    out = retention.export_user_data(store, user, Path(args.output))
    print(f"wrote {out}")
    return 0


# -- parser ------------------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="videocoach", description="Private, offline video review of lessons for coaching.")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = p.add_subparsers(dest="command", required=True)

    a = sub.add_parser("analyse", aliases=["analyze"], help="store and analyse a lesson video (resumable)")
    a.add_argument("lesson", help="the lesson video file")
    a.add_argument("--teacher-sample", help="START-END of this lesson where only the teacher speaks, or an audio file")
    a.add_argument("--asr", choices=["faster-whisper", "openai-whisper"], default="faster-whisper")
    a.add_argument("--model", choices=["base", "tiny.en"], default="base")
    a.add_argument("--num-speakers", type=int, help="the number of speakers, if known")
    a.add_argument("--pyannote-config", metavar="CONFIG_YAML",
                   default=os.environ.get("VIDEOCOACH_PYANNOTE_CONFIG") or None,
                   help="diarise with your own local pyannote.audio pipeline (a config.yaml whose models are local "
                        "files; needs pyannote.audio installed). Default: the built-in diariser")
    a.add_argument("--owner", default=os.environ.get("VIDEOCOACH_USER", "teacher"), help="the teacher who owns it")
    a.add_argument("--title", help="a title (default: the file name)")
    a.add_argument("--policy", help="consent policy name or TOML path (default: blur-all-pupils)")
    a.add_argument("--consent-record", metavar="TEXT",
                   help="for a policy that hides no face (all-consented): the record showing every pupil consented")
    a.add_argument("--no-redact", action="store_true", help="skip face redaction (nothing will be playable)")
    a.set_defaults(func=cmd_analyse)

    sub.add_parser("lessons", help="list stored lessons").set_defaults(func=cmd_lessons)
    s = sub.add_parser("show", help="a lesson's summary")
    s.add_argument("lesson")
    s.set_defaults(func=cmd_show)

    e = sub.add_parser("export", help="export a transcript, turns, metrics")
    e.add_argument("lesson")
    e.add_argument("--format", choices=["vtt", "srt", "rttm", "json", "csv"], required=True)
    e.add_argument("-o", "--output", help="output file (default: stdout)")
    e.set_defaults(func=cmd_export)

    r = sub.add_parser("roles", help="correct which speaker is the teacher; metrics recompute")
    r.add_argument("lesson")
    r.add_argument("--teacher", required=True, help="diarisation speaker label(s), comma-separated")
    r.set_defaults(func=cmd_roles)

    d = sub.add_parser("redact", help="render the redacted video again (e.g. with another policy)")
    d.add_argument("lesson")
    d.add_argument("--policy")
    d.add_argument("--consent-record", metavar="TEXT",
                   help="for a policy that hides no face (all-consented): the record showing every pupil consented")
    d.set_defaults(func=cmd_redact)

    cs = sub.add_parser("check-served", help="look for a visible face in every frame of the redacted video (exit 1 if "
                                             "one is found)")
    cs.add_argument("lesson")
    cs.add_argument("--strict", action="store_true",
                    help="count every detection left outside the hidden areas, without looking it up in the original "
                         "recording")
    cs.set_defaults(func=cmd_check_served)

    u = sub.add_parser("user", help="accounts")
    usub = u.add_subparsers(dest="user_cmd", required=True)
    ua = usub.add_parser("add", help="create an account (the first-run command); password from a prompt or stdin")
    ua.add_argument("name")
    ua.add_argument("--role", choices=["teacher", "coach", "admin"], required=True)
    ua.add_argument("--display-name")
    ua.add_argument("--password-env", help="read the password from this environment variable")
    up = usub.add_parser("passwd", help="set a password")
    up.add_argument("name")
    up.add_argument("--password-env")
    usub.add_parser("list")
    u.set_defaults(func=cmd_user)

    sh = sub.add_parser("share", help="share a lesson with a coach (or --withdraw)")
    sh.add_argument("lesson")
    sh.add_argument("--coach", required=True)
    sh.add_argument("--withdraw", action="store_true")
    sh.set_defaults(func=cmd_share)

    de = sub.add_parser("delete", help="erase a lesson and everything derived from it")
    de.add_argument("lesson")
    de.set_defaults(func=cmd_delete)

    sub.add_parser("purge", help="erase lessons past their retention date").set_defaults(func=cmd_purge)
    ex = sub.add_parser("export-my-data", help="everything held about a teacher's lessons, as a zip")
    ex.add_argument("user")
    ex.add_argument("-o", "--output", required=True)
    ex.set_defaults(func=cmd_export_my_data)

    w = sub.add_parser("worker", help="run background jobs for the app")
    w.add_argument("--once", action="store_true", help="run queued jobs, then exit")
    w.set_defaults(func=cmd_worker)

    for name, func, help_ in (("app", cmd_app, "open the review app"),
                              ("demo", cmd_demo, "analyse the bundled sample lesson, then open the app")):
        ap = sub.add_parser(name, help=help_)
        ap.add_argument("--port", type=int, default=int(os.environ.get("VIDEOCOACH_PORT", "8501")))
        ap.add_argument("--address", default="127.0.0.1")
        if name == "demo":
            ap.add_argument("--no-app", action="store_true", help="only analyse and print the summary")
        ap.set_defaults(func=func)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: nothing here may reach a model hub
    args = build_parser().parse_args(argv)
    from videocoach.storage.records import AccessDenied, NotFound

    user_errors: tuple[type[BaseException], ...] = (CliError, AccessDenied, NotFound, FileNotFoundError)
    try:
        from videocoach.av.media import MediaError
        from videocoach.pipeline import PipelineError
        from videocoach.storage.vault import VaultError

        user_errors += (MediaError, PipelineError, VaultError)
        try:
            from videocoach.privacy.policy import PolicyError

            user_errors += (PolicyError,)
        except ImportError:
            pass
    except ImportError:
        pass
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("\ninterrupted: finished stages are kept; run the same command again to resume", file=sys.stderr)
        return 130
    except user_errors as exc:
        message = str(exc).strip() or type(exc).__name__
        print(f"videocoach: {message}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
