"""Clustering voice embeddings into speakers: spectral clustering with an eigengap speaker count, agglomerative
clustering, and the merges of clusters that are one voice.  Pure numpy / scikit-learn over embedding arrays.
"""

from __future__ import annotations

import numpy as np

STABLE_NEIGHBOURS = 2  # a window is "stable" when this many windows each side carry its label


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
