"""Who is in a face: 128-d embeddings (dlib's ResNet), reference photos, and how a swap scores on any
footage. Taught in chapters 02 and 05.

Two embeddings closer than `THRESHOLD` (Euclidean) are usually the same person. `extract --reference`
keeps the faces near the reference photos; `faces --sort identity` finds a set's outliers; `convert`
scores each swapped face by its distance to B's face set against A's and counts the faces "recognised as
B" (ID retrieval between the two, as in the FaceForensics++ protocol).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import media
from ..errors import FaceswapError
from ..workspace import IMAGE_SUFFIXES, faces_dir
from . import detect, dlibface
from .faceset import FaceSet

THRESHOLD = 0.6  # the usual same-person distance for dlib's ResNet model (its authors' LFW figure)


def embed(image: np.ndarray, faces: list[detect.Face] | list[np.ndarray]) -> np.ndarray:
    """Embeddings (K, 128) of the faces of one RGB image, from their 68 landmarks (any detector's)."""
    marks = faces if faces is None or isinstance(faces, np.ndarray) else \
        [f.landmarks if isinstance(f, detect.Face) else f for f in faces]
    return dlibface.embeddings(image, marks)


def references(path: str | Path, detector: detect.Detector | None = None) -> np.ndarray:
    """Embeddings (N, 128) of the one face in each reference photo (a file, or a folder of them)."""
    path = media.as_path(path, "reference")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise FaceswapError(f"{path}: no photos here (JPEG or PNG); give a photo of the person")
    elif path.is_file():
        files = [path]
    else:
        raise FaceswapError(f"{path}: no such photo or folder")
    detector = detector or dlibface.DlibDetector()
    out = []
    for f in files:
        img = media.read_image(f, "reference photo")
        faces = detector.detect(img)
        if len(faces) != 1:
            raise FaceswapError(f"{f}: {'no face found' if not faces else f'{len(faces)} faces'}; "
                                "a reference photo shows the person alone (crop it to their face)")
        out.append(embed(img, faces)[0])
    return np.array(out, np.float32)


def distances(embeddings: np.ndarray, to: np.ndarray) -> np.ndarray:
    """Distance of each embedding (K, 128) to the nearest of `to` (N, 128) or to one embedding (128,)."""
    to = np.asarray(to, np.float32).reshape(-1, 128)
    if len(embeddings) == 0:
        return np.zeros(0, np.float32)
    return np.linalg.norm(np.asarray(embeddings)[:, None] - to[None], axis=2).min(1)


def crop_embeddings(crops: list[np.ndarray], marks: list[np.ndarray]) -> np.ndarray:
    """Embeddings of aligned face-set crops, given each crop's landmarks in crop pixels."""
    n, k = (None if x is None else len(x) for x in (crops, marks))
    if n is None or n != k:
        raise FaceswapError(f"{n} crops but landmarks for {k}: give one (68, 2) array per crop")
    return np.concatenate([embed(c, [m]) for c, m in zip(crops, marks)]) if len(crops) else \
        np.zeros((0, 128), np.float32)


def faceset_embeddings(faceset, max_faces: int | None = None) -> np.ndarray:
    """Embeddings of (up to `max_faces`, evenly spread) faces of a `faceset.FaceSet`."""
    n = len(faceset)
    picks = (range(n) if max_faces is None or n <= max_faces
             else np.linspace(0, n - 1, max_faces).round().astype(int))
    return crop_embeddings([faceset.image(int(i)) for i in picks],
                           [faceset.crop_landmarks(int(i)) for i in picks])


def recogniser_verdict(swapped: np.ndarray, source_mean: np.ndarray, target_mean: np.ndarray) -> dict:
    """How swapped faces (K, 128) sit between A (`source_mean`) and B (`target_mean`): mean distances to
    each, and the share recognised as B (nearer to B than to A)."""
    d_a, d_b = distances(swapped, source_mean), distances(swapped, target_mean)
    return {"faces": int(len(swapped)), "to_source": float(d_a.mean()) if len(d_a) else None,
            "to_target": float(d_b.mean()) if len(d_b) else None,
            "recognised_as_target": float((d_b < d_a).mean()) if len(d_a) else None,
            "per_face": {"to_source": np.round(d_a, 4).tolist(), "to_target": np.round(d_b, 4).tolist()}}


def distance_matrix(embeddings: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    """The names and the (K, K) matrix of identity distances between named embeddings."""
    names = list(embeddings)
    vectors = np.stack([embeddings[n] for n in names])
    return names, np.stack([distances(vectors, v) for v in vectors])


def same_and_other(names: list[str], dist: np.ndarray, person_of) -> tuple[float, float]:
    """The largest distance between two photos of the same person and the smallest between two people
    (`person_of(name)` says who a photo shows): a recogniser separates them when the first is smaller."""
    who = [person_of(n) for n in names]
    pairs = [(i, j) for i in range(len(names)) for j in range(i)]
    same = [dist[i, j] for i, j in pairs if who[i] == who[j]]
    other = [dist[i, j] for i, j in pairs if who[i] != who[j]]
    return float(max(same)), float(min(other))


def person_means(workspace: str | Path, source: str, target: str, max_faces: int = 32) -> tuple | None:
    """Mean identity embeddings of the face sets of A and B in the workspace (None if one is missing)."""
    try:
        sets = [FaceSet(faces_dir(workspace, p)) for p in (source, target)]
        return tuple(faceset_embeddings(fs, max_faces).mean(0) for fs in sets)
    except FaceswapError:
        return None


__all__ = ["THRESHOLD", "crop_embeddings", "distance_matrix", "distances", "embed", "faceset_embeddings",
           "person_means", "recogniser_verdict", "references", "same_and_other"]
