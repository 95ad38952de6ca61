"""The teacher enrolled once, in the sample lesson, found in a SECOND RECORDING (``eval_identity.py --part second``).

There is no second real recording of the sample lesson's teacher, so one is made from the first, as another camera
position and light would change it, and written once to ``eval/out/second/`` (never committed).  The transform
(``SecondTake``), in ffmpeg's filters, in this order:

1. another order: the lesson from frame ``split_frame`` (73.0 s) to its end, then its start up to there
   (``trim`` on two inputs of the same file, ``concat``; the audio the same way with ``atrim``);
2. the camera on the other side: ``hflip``;
3. closer, another framing: ``scale`` by ``zoom`` (1.15: 1280x720 -> 1472x828), then ``crop`` 1280x720 at
   ``(crop_x, crop_y)`` = (150, 30): a zoom of 1.15 about the point (1000, 200) of the mirrored frame, off-centre
   (up and right);
4. another light: ``eq`` (contrast ``contrast``), ``colorchannelmixer`` (every channel times ``gain``: 30 % darker),
   ``colortemperature`` (``kelvin`` K: warmer white balance than the 6500 K neutral), ``noise`` (temporal, strength
   ``noise``);
5. a phone's encoding: H.264 (libx264, crf ``crf``, preset ``veryfast``), yuv420p, 720p, 25 fps, AAC audio.

Ground truth for "her" in the second recording: her tracks in the first recording (the person the people step
suggests there, checked by eye on ``first_her.png``) mapped through exactly that geometry (time shift, mirror,
zoom and crop: ``SecondTake.map_time`` / ``map_box``); a track of the second recording is hers when most of its
detections overlap (IoU >= ``MATCH_IOU``) one of her mapped detections at the nearest detection time (within
``MATCH_DT_S``) and fewer overlap anyone else's.  PNGs of both frames with the boxes drawn go to
``eval/out/second/`` for a look by eye.

Enrolment exactly as a teacher does it once, in the FIRST recording: (a) the people step's suggestion confirmed
(``res.person_descriptors(res.suggested_teacher)``, what ``people_steps.confirm_teacher`` keeps with no print
before); (b) one photo: a still of her from the first recording, her face cropped with a margin of one face size,
through ``identity.enrol_from_photo`` (the product's photo path).  Then the second recording with that enrolment and
no marking: the tracks shown (``find_people(...).teacher_track_ids``), her on-screen time shown, anyone else's
seconds shown, and whether she is only asked about ("Is this you?"); when asked, the figure after the owner
confirms (``people.confirmed_print``, as ``people_steps.confirm_teacher`` does).

Caveat, said in the report: the second recording is the same footage -- the same poses, expressions and moments --
seen through another geometry, light and encoding; a real second lesson would differ more (clothes, hair, days).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from eval.eval_identity import REPO, analyse_video
from videocoach.av.ffmpeg import ffmpeg_binary, run
from videocoach.privacy import identity, people
from videocoach.privacy.faces import load_detector

OUT = REPO / "eval" / "out" / "second"
MATCH_IOU = 0.3
MATCH_DT_S = 0.12  # detection passes are 0.2 s apart in both recordings; the nearest one is at most 0.1 s away
PHOTO_MARGIN = 1.0  # the photo: her face box grown by this many face sizes on each side


@dataclass(frozen=True)
class SecondTake:
    """The transform from the first recording to the second (see the module's docstring)."""

    width: int = 1280
    height: int = 720
    fps: float = 25.0
    n_frames: int = 3647
    split_frame: int = 1825  # 73.0 s: the second recording starts here
    zoom: float = 1.15
    crop_x: int = 150  # in the mirrored frame scaled by ``zoom`` (1472 x 828)
    crop_y: int = 30
    contrast: float = 1.12
    gain: float = 0.70  # 30 % darker
    kelvin: int = 4800  # warmer than the neutral 6500 K
    noise: int = 6
    crf: int = 26

    @property
    def tag(self) -> str:
        """A short name for these parameters: the tracks cache is keyed by the file's name."""
        import hashlib

        return hashlib.sha1(repr(sorted(asdict(self).items())).encode()).hexdigest()[:8]

    @property
    def split_s(self) -> float:
        return self.split_frame / self.fps

    @property
    def head_s(self) -> float:
        """Where the first recording's start lands in the second."""
        return (self.n_frames - self.split_frame) / self.fps

    def map_time(self, t_s: float) -> float:
        return t_s - self.split_s if t_s >= self.split_s - 1e-6 else t_s + self.head_s

    def map_box(self, box) -> tuple[float, float, float, float] | None:
        """A box of the first recording in the second: mirrored, scaled, cropped; None when less than half of it
        stays in the frame."""
        x1, y1, x2, y2 = box
        mx1, mx2 = self.width - x2, self.width - x1
        bx = (mx1 * self.zoom - self.crop_x, y1 * self.zoom - self.crop_y,
              mx2 * self.zoom - self.crop_x, y2 * self.zoom - self.crop_y)
        cx = (max(0.0, bx[0]), max(0.0, bx[1]), min(float(self.width), bx[2]), min(float(self.height), bx[3]))
        full = (bx[2] - bx[0]) * (bx[3] - bx[1])
        inside = max(0.0, cx[2] - cx[0]) * max(0.0, cx[3] - cx[1])
        return cx if full > 0 and inside >= 0.5 * full else None

    def filter_graph(self) -> str:
        s, z = self.split_frame, self.zoom
        sw, sh = round(self.width * z), round(self.height * z)
        look = (f"hflip,scale={sw}:{sh}:flags=bicubic,crop={self.width}:{self.height}:{self.crop_x}:{self.crop_y},"
                f"eq=contrast={self.contrast},"
                f"colorchannelmixer=rr={self.gain}:gg={self.gain}:bb={self.gain},"
                f"colortemperature=temperature={self.kelvin},"
                f"noise=alls={self.noise}:allf=t,format=yuv420p")
        return (f"[0:v:0]trim=start_frame={s},setpts=PTS-STARTPTS[v2];"
                f"[1:v:0]trim=end_frame={s},setpts=PTS-STARTPTS[v1];"
                f"[0:a:0]atrim=start={self.split_s},asetpts=PTS-STARTPTS[a2];"
                f"[1:a:0]atrim=end={self.split_s},asetpts=PTS-STARTPTS[a1];"
                f"[v2][a2][v1][a1]concat=n=2:v=1:a=1[vc][ac];[vc]{look}[v]")

    def make(self, src: Path, dst: Path) -> float:
        """Write the second recording (single-threaded); returns the CPU seconds of ffmpeg."""
        import resource

        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_suffix(".part.mp4")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        run([ffmpeg_binary(), "-hide_banner", "-nostdin", "-y", "-threads", "1",
             "-i", f"file:{src}", "-threads", "1", "-i", f"file:{src}",
             "-filter_complex", self.filter_graph(), "-filter_complex_threads", "1",
             "-map", "[v]", "-map", "[ac]", "-r", str(self.fps),
             "-c:v", "libx264", "-preset", "veryfast", "-crf", str(self.crf), "-threads", "1",
             "-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart", f"file:{tmp}"], timeout_s=1800)
        tmp.replace(dst)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


# a sensitivity check beyond the brief (``--harsh``): closer (1.3x about another point), 45 % darker, warmer still,
# more noise, a lower bit rate
HARSH = SecondTake(zoom=1.3, crop_x=300, crop_y=120, contrast=1.2, gain=0.55, kelvin=3800, noise=10, crf=30)


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def mapped_detections(tracks, take: SecondTake, owner_of) -> dict[int, list]:
    """Every detection of the first recording in the second: rounded time (0.01 s) -> [(owner, box)]; ``owner_of``
    maps a first-recording track id to a label ("her", or another person's id)."""
    out: dict[int, list] = {}
    for t in tracks.tracks:
        for d in t.detections:
            box = take.map_box(d.box)
            if box is not None:
                out.setdefault(round(take.map_time(d.t_s) * 100), []).append((owner_of(t.id), box, t.id))
    return out


def _near(mapped: dict[int, list], t_s: float):
    best = None
    for key in range(round((t_s - MATCH_DT_S) * 100), round((t_s + MATCH_DT_S) * 100) + 1):
        if key in mapped and (best is None or abs(key - t_s * 100) < abs(best - t_s * 100)):
            best = key
    return mapped.get(best, [])


def label_tracks(tracks2, mapped) -> tuple[dict[int, str], set[int]]:
    """Each second-recording track's owner by overlap with the mapped first-recording detections ("her", a person
    label, or "none"); and the first-recording tracks of hers that some second-recording detection matched."""
    labels, her_matched = {}, set()
    for t in tracks2.tracks:
        votes: dict[str, int] = {}
        for d in t.detections:
            cands = [(iou(d.box, box), owner, tid) for owner, box, tid in _near(mapped, d.t_s)]
            best = max(cands, default=(0.0, "none", None))
            owner = best[1] if best[0] >= MATCH_IOU else "none"
            votes[owner] = votes.get(owner, 0) + 1
            if owner == "her":
                her_matched.add(best[2])
        top = max(votes, key=votes.get)
        if votes.get("her", 0) * 2 >= len(t.detections) and top == "her":
            labels[t.id] = "her"
        else:
            labels[t.id] = "mixed" if top == "her" else top
    return labels, her_matched


def track_seconds(tracks, ids) -> float:
    """Seconds covered by these tracks, each from its first detection to one detection interval past its last; the
    union (two tracks on one face at once -- the harsh take splits her face into two boxes -- count once)."""
    iv, total, end = tracks.detect_interval_s, 0.0, -1.0
    for a, b in sorted((t.start_s, t.end_s + iv) for t in tracks.tracks if t.id in set(ids)):
        total += max(0.0, b - max(a, end))
        end = max(end, b)
    return total


def frame_at(path: Path, t_s: float, fps: float) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    try:
        cap.set(cv2.CAP_PROP_POS_FRAMES, round(t_s * fps))
        ok, im = cap.read()
    finally:
        cap.release()
    if not ok:
        raise RuntimeError(f"no frame at {t_s:.2f} s in {path.name}")
    return im


def draw(im: np.ndarray, box, colour) -> np.ndarray:
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    cv2.rectangle(im, (x1, y1), (x2, y2), colour, 2)
    return im


def her_still(sample: Path, tracks, her_ids, emb, det):
    """The teacher's one photo: from her tracks in the first recording, the largest confident detection whose crop
    (her box grown by PHOTO_MARGIN face sizes) the product's photo path accepts; (time, crop, print, tried)."""
    dets = sorted(((d.box[2] - d.box[0], d.score, d.t_s, d.box) for t in tracks.tracks if t.id in her_ids
                   for d in t.detections if d.score >= 0.8), reverse=True)
    tried = 0
    for _w, _s, t_s, box in dets[:: max(1, len(dets) // 40)][:40]:
        im = frame_at(sample, t_s, tracks.fps)
        w, h = box[2] - box[0], box[3] - box[1]
        x1, y1 = int(max(0, box[0] - PHOTO_MARGIN * w)), int(max(0, box[1] - PHOTO_MARGIN * h))
        x2, y2 = int(min(im.shape[1], box[2] + PHOTO_MARGIN * w)), int(min(im.shape[0], box[3] + PHOTO_MARGIN * h))
        crop = np.ascontiguousarray(im[y1:y2, x1:x2])
        tried += 1
        try:
            return t_s, crop, identity.enrol_from_photo(crop, det, emb), tried
        except identity.PhotoRefused as why:
            print(f"    photo at {t_s:.1f} s refused: {why}")
    raise RuntimeError("no still of her was accepted as a photo")


def shown_report(label: str, tracks2, descs2, enrolled, her2: set[int]) -> people.PeopleResult:
    res = people.find_people(tracks2, descs2, enrolled)
    shown = set(res.teacher_track_ids)
    on = track_seconds(tracks2, her2)
    got = track_seconds(tracks2, shown & her2)
    other = track_seconds(tracks2, shown - her2)
    asked = ""
    if res.suggested_teacher is not None:
        p = res.person(res.suggested_teacher)
        mine = len(set(p.track_ids) & her2)
        asked = (f"; asked \"Is this you?\" about person {p.id} ({res.suggested_by}; {mine} of its "
                 f"{len(p.track_ids)} tracks hers)")
    centre = people.centroid(enrolled)
    far = [identity.distance(people.centroid(descs2[t]), centre) for t in her2 if descs2.get(t)]
    near = [identity.distance(people.centroid(vs), centre) for t, vs in descs2.items() if vs and t not in her2]
    print(f"  {label}: {len(enrolled)} descriptors; tracks shown {len(shown)} ({len(shown & her2)} hers); her "
          f"on-screen time shown {got:.1f} of {on:.1f} s = {got / max(on, 1e-9):.1%}; anyone else shown "
          f"{other:.1f} s{asked}; distance to the print (show at {identity.show_max_distance(enrolled)}): her "
          f"tracks {min(far, default=float('nan')):.3f}-{max(far, default=float('nan')):.3f}, anyone else's "
          f"closest {min(near, default=float('nan')):.3f}")
    return res


def confirm_and_report(label: str, tracks2, descs2, before, res, her2) -> None:
    """The owner answers "Yes, this is me" to the suggestion (as people_steps.confirm_teacher), then the figure."""
    if res.suggested_teacher is None or res.teacher_track_ids:
        return
    after = people.confirmed_print(before, res.person_descriptors(res.suggested_teacher))
    shown_report(f"{label}, after the owner confirms there", tracks2, descs2, after, her2)


def run_second(emb, args) -> None:
    t_start, c_start = time.perf_counter(), time.process_time()
    take = HARSH if getattr(args, "harsh", False) else SecondTake()
    sample = REPO / "sample_media" / "lesson.mp4"
    second = OUT / f"lesson-second-{take.tag}.mp4"
    print(f"second recording: {second.relative_to(REPO)}\n  filter: {take.filter_graph()}\n  encode: libx264 "
          f"veryfast crf {take.crf}, yuv420p, {take.fps:g} fps, AAC")
    if not second.exists():
        cpu = take.make(sample, second)
        print(f"  made in {cpu:.1f} CPU-s (ffmpeg, one thread)")
    tracks1, descs1, thumbs1, res1, (d1, e1) = analyse_video(sample, emb)
    if tracks1.n_frames != take.n_frames or (tracks1.width, tracks1.height) != (take.width, take.height):
        raise RuntimeError("the sample lesson is not the one SecondTake describes")
    print(f"first recording: {len(tracks1.tracks)} tracks, {len(res1.people)} people listed; detect {d1:.1f} s "
          f"(cached when 0), people step {e1:.1f} s")
    if res1.suggested_teacher is None:
        raise RuntimeError("no teacher suggested in the first recording")
    her = res1.person(res1.suggested_teacher)
    her1 = set(her.track_ids)
    (OUT / "first_her.png").write_bytes(thumbs1[min(thumbs1.keys() & her1)])
    print(f"  her (the suggestion): person {her.id}, {len(her1)} tracks, {her.on_screen_s:.1f} s on screen")
    person_of = {tid: p.id for p in res1.people for tid in p.track_ids}
    mapped = mapped_detections(tracks1, take, lambda tid: "her" if tid in her1 else f"p{person_of.get(tid, 'x')}")
    her_mapped_s = len({k for k, v in mapped.items() if any(o == "her" for o, _b, _t in v)}) * tracks1.detect_interval_s

    tracks2, descs2, thumbs2, res2, (d2, e2) = analyse_video(second, emb)
    labels, her_matched = label_tracks(tracks2, mapped)
    her2 = {tid for tid, lab in labels.items() if lab == "her"}
    counts = {lab: sum(1 for v in labels.values() if v == lab) for lab in sorted(set(labels.values()))}
    print(f"second recording: {len(tracks2.tracks)} tracks ({counts}), {len(res2.people)} people listed "
          f"(+{res2.fragments} fragments; real people on screen: 4); detect {d2:.1f} s (cached when 0), "
          f"people step {e2:.1f} s")
    print(f"  ground truth: {len(her_matched)} of her {len(her1)} first-recording tracks matched by a track of the "
          f"second; her mapped detections in frame cover {her_mapped_s:.1f} s; her tracks there: {len(her2)}, "
          f"{track_seconds(tracks2, her2):.1f} s on screen")
    in_person = {tid: p.id for p in res2.people for tid in p.track_ids}
    centre = people.centroid(res1.person_descriptors(res1.suggested_teacher))
    bare = [t for t in her2 if not descs2.get(t)]
    print(f"  her tracks with no descriptor (never shown; fewer than {people.MIN_USABLE} usable detections): "
          f"{len(bare)}, {sum(len(tracks2.track(t).detections) for t in bare)} detections")
    for tid in sorted(her2, key=lambda t: tracks2.track(t).start_s)[:12]:
        t, vs = tracks2.track(tid), descs2.get(tid, [])
        dist = f"{identity.distance(people.centroid(vs), centre):.3f}" if vs else "none"
        print(f"  her track {tid}: {t.start_s:.1f}-{t.end_s:.1f} s, {len(t.detections)} detections, "
              f"{len(vs)} descriptors, person {in_person.get(tid, 'none (a fragment)')}, distance of its mean to "
              f"the first recording's enrolment {dist}")
    for p in res2.people:
        mine = len(set(p.track_ids) & her2)
        for tid in [t for t in p.track_ids if labels[t] != "her" and mine][:5]:
            t = tracks2.track(tid)
            print(f"    in her person, not hers by the ground truth: track {tid} {t.start_s:.1f}-{t.end_s:.1f} s, "
                  f"{len(t.detections)} detections, best score {max(d.score for d in t.detections):.2f}")
        owners = sorted({labels[t] for t in p.track_ids})
        print(f"  person {p.id}: {p.on_screen_s:.1f} s on screen, {len(p.track_ids)} tracks ({mine} hers; "
              f"ground-truth labels {owners})")
        key = min(thumbs2.keys() & set(p.track_ids), default=None)
        if key is not None:
            (OUT / f"second_person_{p.id}{'_her' if mine * 2 > len(p.track_ids) else ''}.png").write_bytes(thumbs2[key])
    for n, tid in enumerate(sorted(her2, key=lambda t: -len(tracks2.track(t).detections))[:2]):
        d = tracks2.track(tid).detections[len(tracks2.track(tid).detections) // 2]
        im2 = draw(frame_at(second, d.t_s, tracks2.fps), d.box, (0, 255, 0))
        for owner, box, tid1 in _near(mapped, d.t_s):
            draw(im2, box, (0, 0, 255) if owner == "her" else (255, 0, 0))
        t1 = d.t_s + take.split_s if d.t_s < take.head_s - 1e-6 else d.t_s - take.head_s
        cv2.imwrite(str(OUT / f"check_{n}_second_{d.t_s:.1f}s.png"), im2)
        cv2.imwrite(str(OUT / f"check_{n}_first_{t1:.1f}s.png"), frame_at(sample, t1, tracks1.fps))

    print("\nenrolled once in the first recording, the suggestion confirmed there:")
    enrolled = res1.person_descriptors(res1.suggested_teacher)
    first = people.find_people(tracks1, descs1, enrolled)
    print(f"  first recording: {track_seconds(tracks1, set(first.teacher_track_ids) & her1):.1f} of "
          f"{track_seconds(tracks1, her1):.1f} s of her shown")
    res = shown_report("second recording", tracks2, descs2, enrolled, her2)
    confirm_and_report("second recording", tracks2, descs2, enrolled, res, her2)

    print("\nenrolled once from one photo (a still of her from the first recording):")
    t_s, crop, vec, tried = her_still(sample, tracks1, her1, emb, load_detector(0.3))
    cv2.imwrite(str(OUT / f"photo_{t_s:.1f}s.png"), crop)
    print(f"  the photo: {crop.shape[1]}x{crop.shape[0]} px at {t_s:.1f} s (try {tried}); photo -> her in the "
          f"second recording (mean of her descriptors): "
          f"{identity.distance(vec, people.centroid([v for t in her2 for v in descs2.get(t, ())])):.3f}")
    res = shown_report("second recording, the photo's print alone", tracks2, descs2, [vec], her2)
    confirm_and_report("second recording", tracks2, descs2, [vec], res, her2)
    r1 = shown_report("first recording, the photo's print alone", tracks1, descs1, [vec], her1)
    if r1.suggested_teacher is not None and not r1.teacher_track_ids:
        after = people.confirmed_print([vec], r1.person_descriptors(r1.suggested_teacher))
        res = shown_report("second recording, after the owner confirmed in the first", tracks2, descs2, after, her2)
        confirm_and_report("second recording", tracks2, descs2, after, res, her2)
    held_out(emb, take, sample, second, tracks1, tracks2, her1, her2, vec)
    print(f"\n--part second: {time.perf_counter() - t_start:.0f} s wall, {time.process_time() - c_start:.0f} CPU-s "
          f"(this process; ffmpeg's above); PNGs in {OUT.relative_to(REPO)}")


def cut_tracks(tracks, lo_s: float, hi_s: float):
    """The tracks' detections from ``lo_s`` to before ``hi_s`` only (tracks left empty dropped)."""
    kept = []
    for t in tracks.tracks:
        dets = tuple(d for d in t.detections if lo_s <= d.t_s < hi_s)
        if dets:
            kept.append(replace(t, detections=dets))
    return replace(tracks, tracks=tuple(kept))


def held_out(emb, take: SecondTake, sample: Path, second: Path, tracks1, tracks2, her1, her2, photo) -> None:
    """No frame in common: enrolled on the first recording's first half only (0-73.0 s, where the photo is from),
    measured on the second recording's first part only (0-72.9 s: the first recording's 73.0-145.9 s), both people
    steps run again on the cut tracks (descriptors from those frames only)."""
    from videocoach.av import media

    a = cut_tracks(tracks1, 0.0, take.split_s)
    b = cut_tracks(tracks2, 0.0, take.head_s)
    da, _ = people.embed_tracks(sample, media.probe(sample), a, emb)
    db, _ = people.embed_tracks(second, media.probe(second), b, emb)
    ra = people.find_people(a, da)
    her_a = set(ra.person(ra.suggested_teacher).track_ids) if ra.suggested_teacher is not None else set()
    her_b = her2 & {t.id for t in b.tracks}
    rb = people.find_people(b, db)
    print(f"\nheld out (no frame in common): enrolled on the first recording's 0-{take.split_s:.1f} s "
          f"({len(ra.people)} people listed, suggestion = her: {bool(her_a) and her_a <= her1}); measured on the "
          f"second's 0-{take.head_s:.1f} s (the first's {take.split_s:.1f}-{take.n_frames / take.fps:.1f} s; "
          f"{len(rb.people)} people listed, {len(her_b)} tracks hers)")
    if not her_a:
        print("  no suggestion in the first half: nothing to enrol")
        return
    enrolled = ra.person_descriptors(ra.suggested_teacher)
    res = shown_report("the suggestion confirmed", b, db, enrolled, her_b)
    confirm_and_report("the suggestion confirmed", b, db, enrolled, res, her_b)
    res = shown_report("the photo's print alone", b, db, [photo], her_b)
    confirm_and_report("the photo's print", b, db, [photo], res, her_b)
    r1 = people.find_people(a, da, [photo])
    if r1.suggested_teacher is not None and not r1.teacher_track_ids:
        after = people.confirmed_print([photo], r1.person_descriptors(r1.suggested_teacher))
        res = shown_report("the photo's print confirmed in the first half", b, db, after, her_b)
        confirm_and_report("the photo's print confirmed in the first half", b, db, after, res, her_b)
