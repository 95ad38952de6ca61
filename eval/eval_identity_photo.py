"""The teacher enrolled from ONE photo, found in other recordings (``python eval/eval_identity.py --part photo``).

The photo: each frame of ``head-pose-face-detection-female.gif`` with exactly one identifiable face, in turn.  Her
tracks: the woman on the left in ``-female-and-male.gif`` and the leftmost of the three in
``face-demographics-walking-and-pause.gif`` (by construction of the clips; checked by eye on the thumbnails).
Everyone else in the clips -- the man (alone and beside her), the two others walking, ``classroom.gif``,
``walking.gif`` -- must be shown 0 s and never suggested.

1. Photo prints compared (``identity.FaceEmbedder.embed_photo`` options): distance photo -> her tracks, photo ->
   everyone else, and what ``people.find_people`` does with the print alone (shown / suggested / hidden).
2. The product's flow per photo: the print suggests her in one clip, the owner confirms there
   (``people.confirmed_print``), and the other clip then shows her at the strict threshold without asking.
3. WIDER different-person pairs under the same treatment: one face as a photo print, the other (the "track") as a
   plain descriptor, both >= 36 px: the false-accept rate at ``ONE_VIEW_MAX_DISTANCE`` (where a photo print shows a
   track) and at ``SAME_PERSON_MAX_DISTANCE``, and the closest pairs
   against ``PHOTO_SUGGEST_MAX_DISTANCE`` (cached in eval/out/identity_wider_photo.npz).
"""

from __future__ import annotations

import itertools
import time

import cv2
import numpy as np

from eval.eval_faces import gif_frames
from eval.eval_identity import CACHE, DATA, analyse_video, track_seconds, wider_labels
from videocoach.privacy import identity, people
from videocoach.privacy.faces import load_detector
from videocoach.privacy.identity import ONE_VIEW_MAX_DISTANCE, PHOTO_SUGGEST_MAX_DISTANCE, SAME_PERSON_MAX_DISTANCE

PHOTO_CLIP = "head-pose-face-detection-female.gif"
HER_CLIPS = ("head-pose-face-detection-female-and-male.gif", "face-demographics-walking-and-pause.gif")
OTHER_CLIPS = ("head-pose-face-detection-male.gif", "classroom.gif", "walking.gif")
PHOTO_CACHE = CACHE.parent / "identity_wider_photo.npz"


def treatments(jitters) -> dict[str, dict]:
    out = {"one chip": dict(paddings=(0.25,), mirror=False)}
    out.update({f"jitter {j}": dict(paddings=(0.25,), mirror=False, jitters=j) for j in jitters})
    out.update({
        "mirror": dict(paddings=(0.25,), mirror=True),
        "3 scales": dict(paddings=identity.PHOTO_PADDINGS, mirror=False),
        "3 scales + mirror (product)": dict(),
        "5 scales + mirror": dict(paddings=(0.1, 0.175, 0.25, 0.325, 0.4)),
    })
    return out


def her_person(result, tracks) -> int:
    """The leftmost listed person (the woman, in both clips)."""
    def x(p):
        return np.mean([(d.box[0] + d.box[2]) / 2 for t in tracks.tracks if t.id in p.track_ids for d in t.detections])
    return min(result.people, key=x).id


def photos(emb, det):
    """(frame index, BGR frame, face box) for every frame of the photo clip with one identifiable face."""
    frames, _fps = gif_frames(DATA / "clips" / PHOTO_CLIP)
    out = []
    for i, im in enumerate(frames):
        d = det.detect(im)
        d = d[d[:, 4] >= 0.5]
        if len(d) == 1 and emb.embed(im, d[0][:4]) is not None:
            out.append((i, im, d[0][:4]))
    return out


def outcome(clips, enrolled) -> dict:
    """Per clip: (seconds shown of her, her on screen, seconds shown of others, suggested her?, suggested other?)."""
    out = {}
    for name, (tracks, descs, her) in clips.items():
        res = people.find_people(tracks, descs, enrolled)
        shown = set(res.teacher_track_ids)
        her_ids = set(res.person(her).track_ids) if her is not None else set()
        out[name] = (track_seconds(tracks, shown & her_ids), track_seconds(tracks, her_ids),
                     track_seconds(tracks, shown - her_ids), res.suggested_teacher is not None
                     and res.suggested_teacher == her, res.suggested_teacher not in (None, her))
    return out


def load_clips(emb) -> dict:
    clips = {}
    for name in (*HER_CLIPS, *OTHER_CLIPS):
        tracks, descs, _th, res, _ = analyse_video(DATA / "clips" / name, emb)
        clips[name] = (tracks, descs, her_person(res, tracks) if name in HER_CLIPS else None)
    return clips


def run_prints(emb, clips, shots, jitters) -> None:
    her_vecs, others = {}, []
    for name, (tracks, descs, her) in clips.items():
        res = people.find_people(tracks, descs)
        for p in res.people:
            vecs = [v for t in p.track_ids for v in descs.get(t, ())]
            if vecs:
                (her_vecs.setdefault(name, []) if p.id == her else others).append(people.centroid(vecs))
    print(f"\n== photo prints: {len(shots)} frames of {PHOTO_CLIP} as the one photo; her tracks in "
          f"{len(her_vecs)} clips, {len(others)} other people identified in the clips ==")
    for label, kw in treatments(jitters).items():
        rows, cpu = [], 0.0
        for i, im, box in shots:
            t0 = time.process_time()
            v = emb.embed_photo(im, box, **kw)
            cpu += time.process_time() - t0
            d_her = [identity.distance(v, h[0]) for h in her_vecs.values()]
            d_oth = min(identity.distance(v, o) for o in others)
            res = outcome(clips, [v])
            found = all(res[n][3] or res[n][0] > 0 for n in HER_CLIPS)
            wrong = sum(r[2] for r in res.values()), sum(r[4] for r in res.values())
            rows.append((i, max(d_her), d_oth, found, wrong, [(res[n][0] > 0, res[n][3]) for n in HER_CLIPS]))
        h, o = np.array([r[1] for r in rows]), np.array([r[2] for r in rows])
        per_clip = "; ".join(
            f"{n[:20]}: shown {sum(r[5][k][0] for r in rows)}, asked {sum(r[5][k][1] for r in rows)}"
            for k, n in enumerate(HER_CLIPS))
        print(f"{label:28s} {cpu / len(rows):.2f} CPU-s/photo | photo->her tracks (worse clip) median "
              f"{np.median(h):.3f} range {h.min():.3f}-{h.max():.3f} | photo->others min {o.min():.3f} | "
              f"{len(rows)} photos: {per_clip}; found in both {sum(r[3] for r in rows)} | "
              f"others shown {sum(r[4][0] for r in rows):.1f} s, others suggested {sum(r[4][1] for r in rows)}")
        print("    per photo (frame, her, others):", [(r[0], round(r[1], 3), round(r[2], 3)) for r in rows])


def run_flow(emb, clips, shots) -> None:
    """Per photo: suggested in clip A, confirmed there; then clip B (another room and light) as a later lesson; then
    confirmed in B too.  And a later lesson in the same room: her track's first half confirmed, its second half
    matched (a proxy: the clips are single recordings)."""
    print(f"\n== the flow (product print; suggest up to {PHOTO_SUGGEST_MAX_DISTANCE}, show at "
          f"{ONE_VIEW_MAX_DISTANCE} (the photo) / {SAME_PERSON_MAX_DISTANCE} (several views)): photo -> suggested in "
          "clip A -> confirmed -> clip B ==")
    for a, b in (HER_CLIPS, HER_CLIPS[::-1]):
        asked, b_shown, b_asked, both_shown, wrong = 0, [], 0, [], 0.0
        for _i, im, box in shots:
            print_ = [emb.embed_photo(im, box)]
            ta, da, her_a = clips[a]
            res = people.find_people(ta, da, print_)
            if res.suggested_teacher != her_a or res.teacher_track_ids:
                continue  # shown already, or not suggested there: not this flow
            asked += 1
            after = people.confirmed_print(print_, res.person_descriptors(her_a))
            got = outcome(clips, after)
            b_shown.append(got[b][0] / max(got[b][1], 1e-9))
            b_asked += got[b][3]
            tb, db_, her_b = clips[b]
            rb = people.find_people(tb, db_, after)
            final = people.confirmed_print(after, rb.person_descriptors(her_b)) if rb.suggested_teacher == her_b \
                else after
            got2 = outcome(clips, final)
            both_shown.append(min(got2[n][0] / max(got2[n][1], 1e-9) for n in HER_CLIPS))
            wrong += sum(r[2] for r in got.values()) + sum(r[2] for r in got2.values())
        print(f"A = {a[:34]}: suggested (not shown) for {asked}/{len(shots)} photos; confirmed there -> "
              f"in B = {b[:34]} shown {np.mean(b_shown or [0]):.1%} of her time (min {np.min(b_shown or [0]):.1%}), "
              f"asked again {b_asked}/{asked}; confirmed in B too -> shown in both clips, worse clip "
              f"{np.min(both_shown or [0]):.1%}; others shown in any clip, all steps: {wrong:.1f} s")
    for name in HER_CLIPS:
        tracks, descs, her = clips[name]
        res = people.find_people(tracks, descs)
        later_ok, n = 0, 0
        for tid in res.person(her).track_ids:
            vecs = descs.get(tid, [])
            if len(vecs) < 4:
                continue
            half = len(vecs) // 2
            for _i, im, box in shots:
                after = people.confirmed_print([emb.embed_photo(im, box)], vecs[:half])
                later_ok += people.teacher_tracks({1: vecs[half:]}, after) == (1,)
                n += 1
        print(f"same room, later: {name[:34]}: her track's second half shown after its first half was confirmed "
              f"(over the photo's print) for {later_ok}/{n} photos")


def wider_photo_vectors(emb, limit):
    """Per embeddable WIDER face >= MIN_FACE_PX: image index, size, plain descriptor, photo print (cached)."""
    if PHOTO_CACHE.exists() and limit is None:
        z = np.load(PHOTO_CACHE)
        return z["image"], z["size"], z["plain"], z["photo"]
    img, size, plain, photo = [], [], [], []
    for i, (rel, boxes) in enumerate(wider_labels(limit).items()):
        image = cv2.imread(str(DATA / "wider_val" / rel))
        if image is None:
            continue
        for x, y, w, h in boxes:
            box = (x, y, x + w, y + h)
            v = emb.embed(image, box)
            if v is None:
                continue
            img.append(i), size.append(max(w, h)), plain.append(v), photo.append(emb.embed_photo(image, box))
    out = (np.asarray(img), np.asarray(size, np.float32), np.asarray(plain, np.float32).reshape(-1, 128),
           np.asarray(photo, np.float32).reshape(-1, 128))
    if limit is None:
        PHOTO_CACHE.parent.mkdir(parents=True, exist_ok=True)
        np.savez(PHOTO_CACHE, image=out[0], size=out[1], plain=out[2], photo=out[3])
    return out


def run_wider(emb, limit) -> None:
    img, size, plain, photo = wider_photo_vectors(emb, limit)
    for min_size in (36, 60):
        both, one, closest = [], [], []
        for i in np.unique(img):
            idx = np.flatnonzero((img == i) & (size >= min_size))
            for a, b in itertools.permutations(idx, 2):  # a as the photo, b as the track
                one.append(float(np.linalg.norm(photo[a] - plain[b])))
            for a, b in itertools.combinations(idx, 2):
                both.append(float(np.linalg.norm(plain[a] - plain[b])))
            for a in idx:  # a as the teacher's photo, the others of the picture as a lesson without her
                rest = [b for b in idx if b != a]
                if rest:
                    closest.append(float(np.min(np.linalg.norm(plain[rest] - photo[a], axis=1))))
        one, both, closest = np.sort(one), np.sort(both), np.asarray(closest)
        print(f"\nWIDER faces >= {min_size} px: {int(np.sum(size >= min_size))} faces")
        print(f"  plain vs plain: {len(both)} pairs, FAR at {SAME_PERSON_MAX_DISTANCE} "
              f"{np.mean(both <= SAME_PERSON_MAX_DISTANCE):.3%}; smallest {np.round(both[:5], 3).tolist()}")
        print(f"  photo print vs plain: {len(one)} pairs, FAR at {SAME_PERSON_MAX_DISTANCE} "
              f"{np.mean(one <= SAME_PERSON_MAX_DISTANCE):.3%} ({int(np.sum(one <= SAME_PERSON_MAX_DISTANCE))}); "
              f"smallest {np.round(one[:5], 3).tolist()}")
        print(f"  photo print vs plain at {ONE_VIEW_MAX_DISTANCE} (a one-view print shows): "
              f"FAR {np.mean(one <= ONE_VIEW_MAX_DISTANCE):.3%} ({int(np.sum(one <= ONE_VIEW_MAX_DISTANCE))})")
        for thr in (0.40, 0.45, PHOTO_SUGGEST_MAX_DISTANCE, 0.50, 0.55):
            print(f"    within {thr:.2f} (a suggestion at most, never shown): {np.mean(one <= thr):.3%} "
                  f"({int(np.sum(one <= thr))} pairs); a picture taken as a lesson without the photo's person "
                  f"would suggest someone: {np.mean(closest <= thr):.1%} of {len(closest)}")


def run_photo(emb, args) -> None:
    if args.photo_part in ("all", "clips"):
        shots = photos(emb, load_detector(0.3))
        clips = load_clips(emb)
        run_prints(emb, clips, shots, args.jitters)
        run_flow(emb, clips, shots)
    if args.photo_part in ("all", "wider"):
        run_wider(emb, args.limit)
