"""Face linking: false-accept rate on different-person pairs (WIDER) and true-accept rate on same-person pairs (clips).

    python eval/eval_identity.py                # both parts; prints the threshold for FAR <= 0.1 %
    python eval/eval_identity.py --limit 60     # fewer WIDER images (quicker)
    python eval/eval_identity.py --part photo   # the teacher enrolled from ONE photo (a frame of the female clip)
    python eval/eval_identity.py --part second  # enrolled once in the sample lesson, found in a second recording
    python eval/eval_identity.py --part second --harsh   # ... made with a harsher transform (eval_identity_second)

Different-person pairs: every pair of labelled faces inside one WIDER group photo (../shared/data/faces/wider_val),
embedded from the ground-truth box (faces the embedder refuses -- too small, turned away -- make no pair: they can
never be shown).  Same-person pairs: faces of one clip with one person in it (head-pose female, head-pose male: every
pair of their frames), and the head-pose woman across her two clips (female alone vs the female-and-male clip, where
she is the face on the left).  Different-person pairs from the clips too: the head-pose woman vs the man.

``--part photo``: every frame of ``head-pose-face-detection-female.gif`` with one identifiable face, taken as the
teacher's one photo, under several photo prints (one chip, dlib's jitter, mirror, scales); its distance to her tracks
in ``-female-and-male.gif`` and ``face-demographics-walking-and-pause.gif`` and to everyone else's; what the product
does with it (shown / suggested / hidden per person); the flow "suggested, confirmed in one clip, found in the other";
and the false-accept rate on WIDER pairs with one face as a photo print and the other as a plain descriptor.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from eval.eval_faces import gif_frames  # noqa: E402
from videocoach.privacy.faces import load_detector  # noqa: E402
from videocoach.privacy import identity, people  # noqa: E402
from videocoach.privacy.identity import SAME_PERSON_MAX_DISTANCE, load_embedder  # noqa: E402
from videocoach.privacy.people import MIN_LISTED_S  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "faces"


def wider_labels(limit: int | None) -> dict[str, np.ndarray]:
    out: dict[str, list] = {}
    cur = None
    for line in (DATA / "wider_val" / "label.txt").read_text().splitlines():
        if line.startswith("#"):
            cur = line[1:].strip()
            out[cur] = []
        elif line.strip() and cur is not None:
            out[cur].append([float(v) for v in line.split()[:4]])
    items = sorted(out.items())[: limit or None]
    return {k: np.asarray(v, dtype=np.float32).reshape(-1, 4) for k, v in items}


CACHE = REPO / "eval" / "out" / "identity_wider.npz"


def wider_vectors(embedder, limit: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Descriptors of every embeddable labelled face: (image index, face size, vector), cached in eval/out/."""
    if CACHE.exists() and limit is None:
        z = np.load(CACHE)
        return z["image"], z["size"], z["vec"], int(z["faces"])
    img_ix, sizes, vecs, faces = [], [], [], 0
    for i, (rel, boxes) in enumerate(wider_labels(limit).items()):
        image = cv2.imread(str(DATA / "wider_val" / rel))
        if image is None:
            continue
        for x, y, w, h in boxes:
            faces += 1
            v = embedder.embed(image, (x, y, x + w, y + h))
            if v is not None:
                img_ix.append(i), sizes.append(max(w, h)), vecs.append(v)
    out = np.asarray(img_ix), np.asarray(sizes, np.float32), np.asarray(vecs, np.float32).reshape(-1, 128), faces
    if limit is None:
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        np.savez(CACHE, image=out[0], size=out[1], vec=out[2], faces=faces)
    return out


def wider_distances(embedder, limit: int | None, min_size: float = 0.0) -> tuple[np.ndarray, int, int]:
    """Distances of every different-person pair (two faces of one WIDER photo), both faces at least ``min_size``."""
    img, size, vec, faces = wider_vectors(embedder, limit)
    dists, embedded = [], 0
    for i in np.unique(img):
        v = vec[(img == i) & (size >= min_size)]
        embedded += len(v)
        for a, b in itertools.combinations(v, 2):
            dists.append(float(np.linalg.norm(a - b)))
    return np.asarray(dists), faces, embedded


def clip_vectors(embedder, detector, name: str, *, pick: str = "largest") -> list[np.ndarray]:
    frames, _fps = gif_frames(DATA / "clips" / name)
    out = []
    for im in frames:
        d = detector.detect(im)
        d = d[d[:, 4] >= 0.5]
        if not len(d):
            continue
        if pick == "left":
            box = d[np.argmin(d[:, 0])]
        elif pick == "right":
            box = d[np.argmax(d[:, 0])]
        else:
            box = d[np.argmax((d[:, 2] - d[:, 0]) * (d[:, 3] - d[:, 1]))]
        v = embedder.embed(im, box[:4])
        if v is not None:
            out.append(v)
    return out


def windows(vs, k: int) -> list[np.ndarray]:
    """Means of k consecutive descriptors: what a track of k usable sightings is compared by."""
    return [np.mean(vs[i: i + k], axis=0) for i in range(0, max(1, len(vs) - k + 1))]


def pair_dists(a, b=None) -> np.ndarray:
    pairs = itertools.combinations(a, 2) if b is None else itertools.product(a, b)
    return np.asarray([float(np.linalg.norm(x - y)) for x, y in pairs])


def look_tag() -> str:
    """The render's second look (``VIDEOCOACH_LOOK_AGAIN``) as it names cached files here and in
    eval_served_frames.py: ``look-crop2``, ``look-below1``; "" with the look off."""
    from videocoach.privacy.schedule import LOOK_SETTINGS, look_from_env

    setting = look_from_env()
    rounds = LOOK_SETTINGS[setting]
    return f"look-{'below' if setting == 'below' else 'crop'}{rounds}" if rounds else ""


def tracks_file(path: Path) -> Path:
    """Where the face tracks of ``analyse_video`` are kept: one file per schedule and second look (shared with
    eval_served_frames.py)."""
    from videocoach.privacy.schedule import schedule_from_env

    from eval.eval_faces import pass_tag

    tag = look_tag()
    look = f".{tag}" if tag else ""  # the look off keeps the name of the files made before it
    return REPO / "eval" / "out" / "tracks" / f"{path.name}.onepass-{schedule_from_env().name}{look}{pass_tag()}.json"


def analyse_video(path: Path, emb, enrolled=()):
    """Real stages on one video: face tracks (default policy), descriptors, people, the enrolled teacher's tracks."""
    from videocoach.av import media
    from videocoach.privacy import onepass, policy, redact

    info = media.probe(path)
    pol = policy.load_named_policy(policy.DEFAULT_POLICY)
    # detection as the product runs it (one pass, detection only, the default schedule); the slow part: kept
    cache = tracks_file(path)
    t0 = time.perf_counter()
    if cache.exists():
        tracks = redact.FaceTracks.from_json(cache.read_text())
    else:
        tracks = onepass.redact_in_one_pass(path, info, pol, None).tracks
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(tracks.to_json())
    t1 = time.perf_counter()
    descs, thumbs = people.embed_tracks(path, info, tracks, emb)
    t2 = time.perf_counter()
    result = people.find_people(tracks, descs, enrolled)
    return tracks, descs, thumbs, result, (t1 - t0, t2 - t1)


def track_seconds(tracks, ids) -> float:
    iv = tracks.detect_interval_s
    return sum(t.end_s - t.start_s + iv for t in tracks.tracks if t.id in set(ids))


def run_people(emb, out_dir: Path) -> None:
    """Sample lesson (people listed, suggestion, visible share after enrolling the suggestion) and the clips test."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sample = REPO / "sample_media" / "lesson.mp4"
    tracks, descs, thumbs, res, (t_det, t_emb) = analyse_video(sample, emb)
    print(f"\nsample lesson: {len(tracks.tracks)} face tracks -> {len(res.people)} people listed "
          f"(+{res.fragments} fragments under {MIN_LISTED_S} s), real people on screen: 4; "
          f"detect {t_det:.1f} s, people step {t_emb:.1f} s")
    for p in res.people:
        print(f"  person {p.id}: {p.on_screen_s:.1f} s on screen, {len(p.track_ids)} tracks, identified {p.identified}"
              f", movement {p.movement:.2f}")
        if p.track_ids[0] in thumbs:
            (out_dir / f"sample_person_{p.id}.png").write_bytes(thumbs[min(thumbs.keys() & set(p.track_ids))])
    if res.suggested_teacher is None:
        print("  no teacher suggested")
        return
    enrolled = res.person_descriptors(res.suggested_teacher)
    print(f"  suggested teacher: person {res.suggested_teacher}; enrolling {len(enrolled)} descriptors")
    again = people.find_people(tracks, descs, enrolled)
    person = res.person(res.suggested_teacher)
    on = track_seconds(tracks, person.track_ids)
    shown = track_seconds(tracks, again.teacher_track_ids)
    shown_in = track_seconds(tracks, set(again.teacher_track_ids) & set(person.track_ids))
    print(f"  after enrolment (same lesson): teacher tracks shown {len(again.teacher_track_ids)}; "
          f"{shown_in:.1f} s of her {on:.1f} s on screen = {shown_in / max(on, 1e-9):.1%}; "
          f"shown outside her person: {shown - shown_in:.1f} s")

    clips = DATA / "clips"
    _t, fdesc, _th, fres, _ = analyse_video(clips / "head-pose-face-detection-female.gif", emb)
    woman = [np.asarray(v, np.float32) for vs in fdesc.values() for v in vs]
    print(f"\nclips: enrolled the woman from head-pose-female.gif with {len(woman)} descriptors "
          f"({len(fres.people)} people there)")
    for name in ("head-pose-face-detection-female-and-male.gif", "face-demographics-walking-and-pause.gif",
                 "head-pose-face-detection-male.gif", "classroom.gif", "walking.gif"):
        tr, ds, th, rs, _ = analyse_video(clips / name, emb, woman)
        shown_ids = set(rs.teacher_track_ids)
        for p in rs.people:
            s = track_seconds(tr, shown_ids & set(p.track_ids))
            print(f"  {name}: person {p.id} on screen {p.on_screen_s:.1f} s, shown {s:.1f} s "
                  f"({s / max(p.on_screen_s, 1e-9):.0%}), tracks {len(p.track_ids)}")
            key = min(th.keys() & set(p.track_ids), default=None)
            if key is not None:
                (out_dir / f"{Path(name).stem}_person_{p.id}.png").write_bytes(th[key])
        print(f"  {name}: {len(tr.tracks)} tracks, shown {len(shown_ids)}: {track_seconds(tr, shown_ids):.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=None, help="WIDER images to use (default all)")
    ap.add_argument("--target-far", type=float, default=0.001)
    ap.add_argument("--part", choices=("all", "pairs", "people", "photo", "second"), default="all")
    ap.add_argument("--photo-part", choices=("all", "clips", "wider"), default="all", help="with --part photo")
    ap.add_argument("--harsh", action="store_true", help="with --part second: a harsher second recording")
    ap.add_argument("--jitters", type=int, nargs="*", default=[10, 50], help="dlib jitter counts tried (--part photo)")
    args = ap.parse_args()
    emb = load_embedder()
    if args.part == "photo":
        from eval.eval_identity_photo import run_photo

        run_photo(emb, args)
        return
    if args.part == "second":
        from eval.eval_identity_second import run_second

        run_second(emb, args)
        return
    if args.part in ("all", "people"):
        run_people(emb, REPO / "eval" / "out" / "identity")
    if args.part == "people":
        return
    run_pairs(emb, args)


def run_pairs(emb, args) -> None:
    det = load_detector(0.3)

    for min_size in (36, 48, 60, 80):
        d, _f, e = wider_distances(emb, args.limit, min_size)
        srt_ = np.sort(d)
        k_ = int(np.floor(args.target_far * len(srt_)))
        print(f"WIDER faces >= {min_size} px: {e} faces, {len(d)} pairs; FAR <= {args.target_far:.1%} below "
              f"{srt_[k_] if len(srt_) else float('nan'):.3f}; smallest {np.round(srt_[:3], 3).tolist()}; "
              f"FAR at the operating threshold {np.mean(d <= SAME_PERSON_MAX_DISTANCE):.3%}")
    diff, faces, embedded = wider_distances(emb, args.limit, identity.MIN_FACE_PX)
    print(f"WIDER: {faces} labelled faces, {embedded} embeddable, {len(diff)} different-person pairs")
    srt = np.sort(diff)
    k = int(np.floor(args.target_far * len(srt)))
    thr_far = float(srt[k]) if len(srt) else float("nan")  # at most k pairs strictly below this
    print(f"  smallest different-person distances: {np.round(srt[:5], 3).tolist()}")
    print(f"  threshold for FAR <= {args.target_far:.1%}: distance < {thr_far:.3f}")
    for thr in (0.35, 0.4, 0.42, 0.45, 0.5, 0.55, 0.6):
        print(f"  thr {thr:.2f}: FAR {np.mean(diff <= thr):.4%} ({int(np.sum(diff <= thr))} pairs)")

    fem = clip_vectors(emb, det, "head-pose-face-detection-female.gif")
    male = clip_vectors(emb, det, "head-pose-face-detection-male.gif")
    fem2 = clip_vectors(emb, det, "head-pose-face-detection-female-and-male.gif", pick="left")
    male2 = clip_vectors(emb, det, "head-pose-face-detection-female-and-male.gif", pick="right")
    same = np.concatenate([pair_dists(fem), pair_dists(male), pair_dists(fem, fem2), pair_dists(male, male2)])
    cross = np.concatenate([pair_dists(fem, male), pair_dists(fem, male2), pair_dists(fem2, male)])
    print(f"clips: embedded frames female {len(fem)}, male {len(male)}, together L {len(fem2)} R {len(male2)}")
    for thr in sorted({SAME_PERSON_MAX_DISTANCE, thr_far, 0.5, 0.6}):
        print(f"  thr {thr:.3f}: TAR same-person {np.mean(same <= thr):.1%} of {len(same)} pairs; "
              f"FAR woman-vs-man {np.mean(cross <= thr):.2%} of {len(cross)} pairs")
    # what the product decides on: the mean of a track's descriptors against the mean of the enrolled ones
    centre = np.mean(fem, axis=0)
    for k in (1, 4, 8):
        same_w = [np.linalg.norm(w - centre) for w in windows(fem2, k)]
        diff_w = [np.linalg.norm(w - centre) for vs in (male, male2) for w in windows(vs, k)]
        print(f"  track level, means of {k} descriptors vs the woman's enrolled mean (thr {SAME_PERSON_MAX_DISTANCE}):"
              f" TAR {np.mean(np.asarray(same_w) <= SAME_PERSON_MAX_DISTANCE):.1%} of {len(same_w)} (her, other clip);"
              f" FAR {np.mean(np.asarray(diff_w) <= SAME_PERSON_MAX_DISTANCE):.1%} of {len(diff_w)} (the man)")
    print(f"operating threshold (identity.SAME_PERSON_MAX_DISTANCE): {SAME_PERSON_MAX_DISTANCE}; "
          f"WIDER FAR there {np.mean(diff <= SAME_PERSON_MAX_DISTANCE):.4%}")


if __name__ == "__main__":
    main()
