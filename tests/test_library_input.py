"""Bad input handed to the library's public entry points, as a hostile caller would give it: images of the wrong
dtype or shape, None and lists, broken or degenerate landmarks, sizes of 0, -5 or 10**6, frame rates of 0 or NaN,
paths that are missing, folders, None or numbers. Each probe must end with one `FaceswapError` line naming what
was wrong (never a raw OpenCV, numpy or ZeroDivision error, never a silently wrong-shaped result); inputs the
library converts (grey, RGBA, a visibility column) must give the right shape."""

from __future__ import annotations

import itertools
import struct
import zlib
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from faceswap_core import FaceswapError, encode, media, synth
from faceswap_core.faces import align, cascade, detect, dlibface, identity
from faceswap_core.provenance import labelling, verifier, watermark
from faceswap_core.swapping import swap


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares `width` x `height` (a decompression bomb's header, no real data)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 8)) + chunk(b"IEND", b"")


class _Fixed(detect.Detector):
    """One face where the test frame has it (no model, no cost)."""

    name = "fixed"

    def __init__(self, marks):
        self.marks = marks

    def detect(self, frame, index=None):
        return [detect.Face(detect.box_of(self.marks), self.marks.astype(np.float32), 1.0, self.name)]


@pytest.fixture(scope="module")
def c(tmp_path_factory):
    """What the probes share: a rendered face and its landmarks, files, detectors and one tiny Swapper."""
    from faceswap_core.training.model import FaceSwapModel

    tmp = tmp_path_factory.mktemp("library_input")
    r = synth.render(synth.CAST["ines"], synth.Condition(), 128)
    lm = r.landmarks[:, :2].astype(np.float64)
    (tmp / "folder").mkdir()
    (tmp / "notes.txt").write_text("not an image\n")
    (tmp / "empty.png").write_bytes(b"")
    (tmp / "bomb.png").write_bytes(_png_claiming(65535, 65535))
    (tmp / "big.png").write_bytes(_png_claiming(12_000, 10_000))  # over our limit, under PIL's
    (tmp / "cut.png").write_bytes(_png_claiming(64, 64)[:-20])
    good = np.zeros((12, 20, 3), np.uint8)
    good[..., 0] = 255  # red
    cv2.imwrite(str(tmp / "red.png"), good[..., ::-1])
    clip = encode.write_video(tmp / "clip.mp4", [r.frame] * 3, fps=10)
    counter = itertools.count()
    sw = swap.Swapper(FaceSwapModel.create("lite", ["ines", "tomas"], seed=0), "tomas", _Fixed(lm), device="cpu")
    return SimpleNamespace(tmp=tmp, frame=r.frame, lm=lm, lm3=r.landmarks, box=detect.box_of(lm), clip=clip,
                           m=align.alignment_matrix(lm, 64), swapper=sw, cascade=cascade.CascadeDetector(),
                           dlib=dlibface.DlibDetector(), fresh=lambda name: tmp / f"{next(counter)}_{name}")


# ---------------------------------------------------------------------------------------------- the inputs

F = np.zeros((16, 16, 3), np.uint8)
HUGE = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (40_000, 8, 3))  # a view: no memory behind it
BAD_IMAGES = {  # name: (image, what the message says)
    "float32": (F.astype(np.float32), "float32 pixels"),
    "float64": (F.astype(np.float64), "float64 pixels"),
    "uint16": (F.astype(np.uint16), "uint16 pixels"),
    "bool": (F.astype(bool), "bool pixels"),
    "object": (np.empty((16, 16, 3), object), "object pixels"),
    "int-lists": ([[0, 1], [2, 3]], "int64 pixels"),
    "ragged-list": ([[1, 2], [3]], "not an image array"),
    "none": (None, "no image"),
    "0x0": (np.zeros((0, 0, 3), np.uint8), "empty"),
    "0x16": (np.zeros((0, 16, 3), np.uint8), "empty"),
    "5-channels": (np.zeros((16, 16, 5), np.uint8), r"shape \(16, 16, 5\)"),
    "channels-first": (np.zeros((3, 32, 32), np.uint8), r"shape \(3, 32, 32\).*channels first"),
    "1-d": (np.zeros(16, np.uint8), r"shape \(16,\)"),
    "4-d": (np.zeros((1, 16, 16, 3), np.uint8), r"shape \(1, 16, 16, 3\).*not a batch"),
    "scalar": (np.uint8(7), r"shape \(\)"),
    "huge": (HUGE, "8x40000 .*too large"),
}
FEW = ("float32", "uint16", "none", "0x0", "channels-first", "4-d", "huge")  # for the slower entry points

IMAGE_CALLS = {  # name: (call(ctx, image), bad images probed)
    "media.rgb_image": (lambda c, x: media.rgb_image(x), BAD_IMAGES),
    "align.align_face": (lambda c, x: align.align_face(x, c.lm, 64), BAD_IMAGES),
    "cascade.detect": (lambda c, x: c.cascade.detect(x), BAD_IMAGES),
    "dlib.detect": (lambda c, x: c.dlib.detect(x), BAD_IMAGES),
    "dlibface.find_faces": (lambda c, x: dlibface.find_faces(x), BAD_IMAGES),
    "dlibface.landmarks": (lambda c, x: dlibface.landmarks(x, c.box), FEW),
    "dlibface.embeddings": (lambda c, x: dlibface.embeddings(x, [c.lm]), FEW),
    "identity.embed": (lambda c, x: identity.embed(x, [c.lm]), BAD_IMAGES),
    "Swapper.swap_frame": (lambda c, x: c.swapper.swap_frame(x), BAD_IMAGES),
    "Swapper.swap_frames": (lambda c, x: c.swapper.swap_frames([c.frame, x]), FEW),
    "Swapper.explain": (lambda c, x: c.swapper.explain(x), FEW),
    "labelling.label_frame": (lambda c, x: labelling.label_frame(x), BAD_IMAGES),
    "labelling.label_score": (lambda c, x: labelling.label_score(x), FEW),
    "watermark.embed": (lambda c, x: watermark.embed(x), FEW),
    "watermark.extract": (lambda c, x: watermark.extract(x), FEW),
    "watermark.mark_frame": (lambda c, x: watermark.mark_frame(x), FEW),
    "encode.write_video": (lambda c, x: encode.write_video(c.fresh("v.mp4"), [x], fps=10), BAD_IMAGES),
    "encode.write_gif": (lambda c, x: encode.write_gif([x], c.fresh("g.gif"), fps=10), FEW),
}
# crop and uncrop also warp masks and float maps: any OpenCV-ready pixels pass, the rest are refused
WARP_CALLS = {
    "align.crop": lambda c, x: align.crop(x, c.m, 32),
    "align.uncrop": lambda c, x: align.uncrop(x, c.m, (48, 40)),
}
WARP_OK = ("float32", "float64", "uint16")


def _lm(change):
    def make(c):
        pts = c.lm.copy()
        change(pts)
        return pts
    return make


def _set(index, value):
    def change(pts):
        pts[index] = value
    return change


BAD_MARKS = {  # name: (landmarks from ctx, what the message says)
    "none": (lambda c: None, "None"),
    "67x2": (lambda c: c.lm[:67], r"shape \(67, 2\)"),
    "68x4": (lambda c: np.c_[c.lm, c.lm], r"shape \(68, 4\)"),
    "flat": (lambda c: c.lm.ravel(), r"shape \(136,\)"),
    "transposed": (lambda c: c.lm.T, r"shape \(2, 68\)"),
    "nan": (_lm(_set((30, 0), np.nan)), "NaN, infinite"),
    "inf": (_lm(_set((40, 1), np.inf)), "NaN, infinite"),
    "all-equal": (lambda c: np.full((68, 2), 50.0), "degenerate"),
    "one-line": (_lm(_set((slice(None), 1), 60.0)), "degenerate"),
    "strings": (lambda c: np.full((68, 2), "a"), "not numbers"),
    "far-off": (lambda c: c.lm + 1e12, "far-off"),
}
MARK_CALLS = {
    "align.align_face": lambda c, p: align.align_face(c.frame, p, 64),
    "align.alignment_matrix": lambda c, p: align.alignment_matrix(p, 64),
    "align.view_matrix": lambda c, p: align.view_matrix(p, 64),
    "align.face_mask": lambda c, p: align.face_mask(p, (64, 64)),
    "align.core_mask": lambda c, p: align.core_mask(p, (64, 64)),
    "align.head_pose": lambda c, p: align.head_pose(p, (128, 128)),
    "dlibface.embeddings": lambda c, p: dlibface.embeddings(c.frame, [p]),
    "identity.embed": lambda c, p: identity.embed(c.frame, [p]),
    "identity.crop_embeddings": lambda c, p: identity.crop_embeddings([c.frame], [p]),
}


def _shape_of(shape, dtype=np.uint8):
    return lambda out: out.shape == shape and out.dtype == dtype


def _grey(c):
    return c.frame.mean(2).astype(np.uint8)


# other probes: (call(ctx), what the message says, or a check of a correct result)
OTHER = {
    # sizes
    "align_face size 0": (lambda c: align.align_face(c.frame, c.lm, 0), "size 0"),
    "align_face size -5": (lambda c: align.align_face(c.frame, c.lm, -5), "size -5"),
    "align_face size 10**6": (lambda c: align.align_face(c.frame, c.lm, 10**6), "size 1000000"),
    "align_face size 2.5": (lambda c: align.align_face(c.frame, c.lm, 2.5), "size 2.5"),
    "align_face size None": (lambda c: align.align_face(c.frame, c.lm, None), "size None"),
    "align_face size '64'": (lambda c: align.align_face(c.frame, c.lm, "64"), "size '64'"),
    "align_face size nan": (lambda c: align.align_face(c.frame, c.lm, float("nan")), "size nan"),
    "align_face size True": (lambda c: align.align_face(c.frame, c.lm, True), "size True"),
    "align_face padding 0.5": (lambda c: align.align_face(c.frame, c.lm, 64, 0.5), "padding 0.5"),
    "alignment_matrix size 0": (lambda c: align.alignment_matrix(c.lm, 0), "size 0"),
    "view_matrix size -5": (lambda c: align.view_matrix(c.lm, -5), "size -5"),
    "view_matrix coverage 0": (lambda c: align.view_matrix(c.lm, 64, 0), "coverage 0"),
    "crop size 0": (lambda c: align.crop(c.frame, c.m, 0), "size 0"),
    "crop size -5": (lambda c: align.crop(c.frame, c.m, -5), "size -5"),
    "crop size 10**6": (lambda c: align.crop(c.frame, c.m, 10**6), "size 1000000"),
    "crop matrix nan": (lambda c: align.crop(c.frame, np.full((2, 3), np.nan), 32), "matrix"),
    "crop matrix 3x3": (lambda c: align.crop(c.frame, np.eye(3), 32), r"matrix.*\(3, 3\)"),
    "crop matrix None": (lambda c: align.crop(c.frame, None, 32), "matrix"),
    "crop matrix singular": (lambda c: align.crop(c.frame, np.zeros((2, 3)), 32), "matrix"),
    "invert matrix singular": (lambda c: align.invert(np.zeros((2, 3))), "matrix"),
    "uncrop shape (0, 0)": (lambda c: align.uncrop(c.frame, c.m, (0, 0)), r"shape \(0, 0\)"),
    "uncrop shape (-5, 10)": (lambda c: align.uncrop(c.frame, c.m, (-5, 10)), r"shape \(-5, 10\)"),
    "uncrop shape huge": (lambda c: align.uncrop(c.frame, c.m, (10**6, 10**6)), r"shape \(1000000, 1000000\)"),
    "uncrop shape None": (lambda c: align.uncrop(c.frame, c.m, None), "shape None"),
    "uncrop shape 'abc'": (lambda c: align.uncrop(c.frame, c.m, "abc"), "shape 'abc'"),
    "face_mask shape (0, 0)": (lambda c: align.face_mask(c.lm, (0, 0)), r"shape \(0, 0\)"),
    "face_mask shape (5,)": (lambda c: align.face_mask(c.lm, (5,)), r"shape \(5,\)"),
    "core_mask shape huge": (lambda c: align.core_mask(c.lm, (10**6, 10**6)), r"shape \(1000000"),
    "head_pose shape (0, 0)": (lambda c: align.head_pose(c.lm, (0, 0)), r"shape \(0, 0\)"),
    "head_pose focal -1": (lambda c: align.head_pose(c.lm, (128, 128), -1.0), "focal -1"),
    "write_gif width 0": (lambda c: encode.write_gif([c.frame], c.fresh("g.gif"), 10, width=0), "width 0"),
    "write_gif width 10**6": (lambda c: encode.write_gif([c.frame], c.fresh("g.gif"), 10, width=10**6),
                              "width 1000000"),
    "extract n_bits 0": (lambda c: watermark.extract(c.frame, 0), "n_bits 0"),
    "extract n_bits -1": (lambda c: watermark.extract(c.frame, -1), "n_bits -1"),
    "embed step 0": (lambda c: watermark.embed(c.frame, step=0), "step 0"),
    "verify max_frames 0": (lambda c: verifier.verify(c.clip, max_frames=0), "max_frames 0"),
    "dlib landmarks box nan": (lambda c: dlibface.landmarks(c.frame, np.full(4, np.nan)), "box"),
    "dlib landmarks box None": (lambda c: dlibface.landmarks(c.frame, None), "box"),
    "dlib landmarks box short": (lambda c: dlibface.landmarks(c.frame, np.zeros(2)), "box"),
    "cascade min_size 0": (lambda c: cascade.CascadeDetector(min_size=0), "min_size 0"),
    "cascade max_side -5": (lambda c: cascade.CascadeDetector(max_side=-5), "max_side -5"),
    "detect_batch lengths": (lambda c: c.cascade.detect_batch([c.frame, c.frame], [0]), "2 frames but 1 frame ind"),
    "get_detector name None": (lambda c: detect.get_detector(None), "detector None"),
    "Swapper coverage -1": (lambda c: swap.Swapper(c.swapper.model, "tomas", c.swapper.detector, coverage=-1),
                            "coverage -1"),
    "embed passes 0": (lambda c: watermark.embed(c.frame, passes=0), "passes 0"),
    # frame rates
    "write_video fps 0": (lambda c: encode.write_video(c.fresh("v.mp4"), [c.frame], fps=0), "fps 0"),
    "write_video fps -1": (lambda c: encode.write_video(c.fresh("v.mp4"), [c.frame], fps=-1), "fps -1"),
    "write_video fps nan": (lambda c: encode.write_video(c.fresh("v.mp4"), [c.frame], fps=float("nan")), "fps nan"),
    "write_video fps inf": (lambda c: encode.write_video(c.fresh("v.mp4"), [c.frame], fps=float("inf")), "fps inf"),
    "write_video fps None": (lambda c: encode.write_video(c.fresh("v.mp4"), [c.frame], fps=None), "fps None"),
    "write_video fps '25'": (lambda c: encode.write_video(c.fresh("v.mp4"), [c.frame], fps="25"), "fps '25'"),
    "VideoWriter fps 0": (lambda c: encode.VideoWriter(c.fresh("v.mp4"), 0), "fps 0"),
    "write_gif fps 0": (lambda c: encode.write_gif([c.frame], c.fresh("g.gif"), 0), "fps 0"),
    "write_gif fps nan": (lambda c: encode.write_gif([c.frame], c.fresh("g.gif"), float("nan")), "fps nan"),
    "read_frames fps 0": (lambda c: media.read_frames(c.clip, fps=0), "fps 0"),
    "read_frames fps -1": (lambda c: media.read_frames(c.clip, fps=-1), "fps -1"),
    "Swapper.start fps 0": (lambda c: c.swapper.start(0), "fps 0"),
    # frames given the wrong way
    "write_video one frame as frames": (lambda c: encode.write_video(c.fresh("v.mp4"), c.frame, fps=10),
                                        r"frames: one array of shape \(128, 128, 3\)"),
    "write_video frames None": (lambda c: encode.write_video(c.fresh("v.mp4"), None, fps=10), "frames: None"),
    "write_gif no frames": (lambda c: encode.write_gif([], c.fresh("g.gif"), 10), "no frames"),
    "write_gif frames array": (lambda c: encode.write_gif(c.frame, c.fresh("g.gif"), 10), "frames: one array"),
    "embeddings marks None": (lambda c: dlibface.embeddings(c.frame, None), "landmarks None"),
    "crop_embeddings lengths": (lambda c: identity.crop_embeddings([c.frame, c.frame], [c.lm]),
                                "2 crops but landmarks for 1"),
    "match_color src float": (lambda c: swap.match_color(np.zeros((5, 3)), np.zeros((5, 3), np.uint8)),
                              "float64"),
    "match_color src (5, 4)": (lambda c: swap.match_color(np.zeros((5, 4), np.uint8), np.zeros((5, 3), np.uint8)),
                               r"\(5, 4\)"),
    "match_color ref None": (lambda c: swap.match_color(np.zeros((5, 3), np.uint8), None), "ref"),
    "match_color mode": (lambda c: swap.match_color(np.zeros((0, 3), np.uint8), np.zeros((0, 3), np.uint8), "x"),
                         "colour matching 'x'"),
    "label_frame text None": (lambda c: labelling.label_frame(c.frame.copy(), None), "text None"),
    # paths
    "read_image missing": (lambda c: media.read_image(c.tmp / "nope.png"), "nope.png: no such file"),
    "read_image folder": (lambda c: media.read_image(c.tmp / "folder"), "folder: a folder"),
    "read_image None": (lambda c: media.read_image(None), "image None: not a path"),
    "read_image int": (lambda c: media.read_image(3), "image 3: not a path"),
    "read_image text file": (lambda c: media.read_image(c.tmp / "notes.txt"), "notes.txt: not a readable image"),
    "read_image empty file": (lambda c: media.read_image(c.tmp / "empty.png"), "empty.png: not a readable image"),
    "read_image 65535x65535": (lambda c: media.read_image(c.tmp / "bomb.png"), "bomb.png: .*4,294,836,225 pixels"),
    "read_image truncated": (lambda c: media.read_image(c.tmp / "cut.png"), "cut.png: not a readable image"),
    "read_image 12000x10000": (lambda c: media.read_image(c.tmp / "big.png"), "big.png: .*12000x10000, over 100"),
    "read_image what": (lambda c: media.read_image(None, "reference photo"), "reference photo None"),
    "references None": (lambda c: identity.references(None, c.cascade), "None: not a path"),
    "references int": (lambda c: identity.references(7, c.cascade), "7: not a path"),
    "references missing": (lambda c: identity.references(c.tmp / "nope", c.cascade), "nope: no such"),
    "references bomb": (lambda c: identity.references(c.tmp / "bomb.png", c.cascade), "bomb.png"),
    "references text": (lambda c: identity.references(c.tmp / "notes.txt", c.cascade), "notes.txt"),
    "verify None": (lambda c: verifier.verify(None), "None: not a path"),
    "verify int": (lambda c: verifier.verify(5), "5: not a path"),
    "verify missing": (lambda c: verifier.verify(c.tmp / "nope.mp4"), "nope.mp4: no such file"),
    "verify folder": (lambda c: verifier.verify(c.tmp / "folder"), "folder: a folder"),
    "verify text": (lambda c: verifier.verify(c.tmp / "notes.txt"), "notes.txt: not a readable video"),
    "video_info None": (lambda c: media.video_info(None), "None: not a path"),
    "read_frames folder": (lambda c: media.read_frames(c.tmp / "folder"), "folder: a folder"),
    "write_video path None": (lambda c: encode.write_video(None, [c.frame], fps=10), "None: not a path"),
    "write_video path int": (lambda c: encode.write_video(4, [c.frame], fps=10), "4: not a path"),
    "write_video into a folder": (lambda c: encode.write_video(c.tmp / "folder", [c.frame], 10, overwrite=True),
                                  "folder: a folder"),
    "write_gif path None": (lambda c: encode.write_gif([c.frame], None, 10), "None: not a path"),
    # what the checks let through, with the right result
    "ok rgb_image grey": (lambda c: media.rgb_image(np.zeros((5, 7), np.uint8)), _shape_of((5, 7, 3))),
    "ok rgb_image (H, W, 1)": (lambda c: media.rgb_image(np.zeros((5, 7, 1), np.uint8)), _shape_of((5, 7, 3))),
    "ok rgb_image RGBA": (lambda c: media.rgb_image(np.zeros((5, 7, 4), np.uint8)), _shape_of((5, 7, 3))),
    "ok rgb_image 1x1": (lambda c: media.rgb_image(np.zeros((1, 1, 3), np.uint8)), _shape_of((1, 1, 3))),
    "ok rgb_image is the same array": (lambda c: media.rgb_image(c.frame) is c.frame, bool),
    "ok align_face": (lambda c: align.align_face(c.frame, c.lm, 64)[0], _shape_of((64, 64, 3))),
    "ok align_face grey": (lambda c: align.align_face(_grey(c), c.lm, 64)[0], _shape_of((64, 64, 3))),
    "ok align_face (68, 3) marks": (lambda c: align.align_face(c.frame, c.lm3, 64)[0], _shape_of((64, 64, 3))),
    "ok align_face int marks": (lambda c: align.align_face(c.frame, c.lm.round().astype(int), 64)[0],
                                _shape_of((64, 64, 3))),
    "ok align_face list marks": (lambda c: align.align_face(c.frame, c.lm.tolist(), 64)[0], _shape_of((64, 64, 3))),
    "ok crop float32": (lambda c: align.crop(c.frame.astype(np.float32), c.m, 32), _shape_of((32, 32, 3), np.float32)),
    "ok crop mask": (lambda c: align.crop(np.zeros((128, 128), np.uint8), c.m, 32), _shape_of((32, 32))),
    "ok uncrop mask": (lambda c: align.uncrop(np.zeros((64, 64), np.uint8), c.m, (128, 96, 3)),
                       _shape_of((128, 96))),
    "ok face_mask": (lambda c: align.face_mask(c.lm, (128, 128, 3)),
                     lambda m: m.shape == (128, 128) and m.max() == 255),
    "ok head_pose": (lambda c: align.head_pose(c.lm3, (128, 128)), lambda p: np.all(np.abs(p) < 15)),
    "ok read_image": (lambda c: media.read_image(c.tmp / "red.png"),
                      lambda im: im.shape == (12, 20, 3) and im.dtype == np.uint8 and tuple(im[0, 0]) == (255, 0, 0)),
    "ok cascade grey": (lambda c: c.cascade.detect(_grey(c)), lambda faces: isinstance(faces, list)),
    "ok cascade 1x1": (lambda c: c.cascade.detect(np.zeros((1, 1, 3), np.uint8)), lambda faces: faces == []),
    "ok dlib 1x1": (lambda c: c.dlib.detect(np.zeros((1, 1), np.uint8)), lambda faces: faces == []),
    "ok cascade thin": (lambda c: c.cascade.detect(np.zeros((20_000, 2, 3), np.uint8)), lambda faces: faces == []),
    "ok dlib thin": (lambda c: c.dlib.detect(np.zeros((2, 20_000, 3), np.uint8)), lambda faces: faces == []),
    "ok dlib landmarks": (lambda c: dlibface.landmarks(c.frame, c.box), _shape_of((68, 2), np.float32)),
    "ok embed": (lambda c: identity.embed(c.frame, [c.lm]), _shape_of((1, 128), np.float32)),
    "ok embed none": (lambda c: identity.embed(c.frame, []), _shape_of((0, 128), np.float32)),
    "ok crop_embeddings none": (lambda c: identity.crop_embeddings([], []), _shape_of((0, 128), np.float32)),
    "ok label_frame grey": (lambda c: labelling.label_frame(_grey(c)), _shape_of((128, 128, 3))),
    "ok label_frame flipped view": (lambda c: labelling.label_frame(c.frame[:, ::-1]), _shape_of((128, 128, 3))),
    "ok label_frame in place": (lambda c: (lambda f: labelling.label_frame(f) is f)(c.frame.copy()), bool),
    "ok swap_frame": (lambda c: c.swapper.swap_frame(c.frame), _shape_of((128, 128, 3))),
    "ok swap_frame RGBA": (lambda c: c.swapper.swap_frame(np.dstack([c.frame, c.frame[..., 0]])),
                           _shape_of((128, 128, 3))),
    "ok match_color": (lambda c: swap.match_color(np.zeros((5, 3), np.uint8), np.full((9, 3), 99, np.uint8)),
                       _shape_of((5, 3))),
    "ok write_video grey": (lambda c: encode.write_video(c.fresh("v.mp4"), [_grey(c)] * 2, fps=10),
                            lambda p: media.video_info(p).frames == 2),
    "ok write_video 29.97 fps": (lambda c: encode.write_video(c.fresh("v.mp4"), [c.frame], fps=29.97),
                                 lambda p: p.is_file()),
    "ok write_gif": (lambda c: encode.write_gif(np.stack([c.frame] * 2), c.fresh("g.gif"), 10), lambda p: p.is_file()),
    "ok write_gif thin": (lambda c: encode.write_gif([np.zeros((1, 5000, 3), np.uint8)], c.fresh("g.gif"), 10),
                          lambda p: p.is_file()),
    "ok watermark grey": (lambda c: watermark.mark_frame(_grey(c)), _shape_of((128, 128, 3))),
}


def _params():
    out = []
    for name, (call, images) in IMAGE_CALLS.items():
        for kind in images:
            image, says = BAD_IMAGES[kind]
            out.append(pytest.param(lambda c, call=call, image=image: call(c, image), says, id=f"{name} {kind}"))
    for name, call in WARP_CALLS.items():
        for kind, (image, says) in BAD_IMAGES.items():
            expect = (lambda out: out.dtype != np.uint8) if kind in WARP_OK else says
            out.append(pytest.param(lambda c, call=call, image=image: call(c, image), expect, id=f"{name} {kind}"))
    for name, call in MARK_CALLS.items():
        for kind, (make, says) in BAD_MARKS.items():
            out.append(pytest.param(lambda c, call=call, make=make: call(c, make(c)), says, id=f"{name} marks {kind}"))
    out += [pytest.param(call, expect, id=name) for name, (call, expect) in OTHER.items()]
    return out


@pytest.mark.parametrize("call, expect", _params())
def test_library_input(c, call, expect):
    if isinstance(expect, str):
        with pytest.raises(FaceswapError, match=expect) as e:
            call(c)
        assert "\n" not in str(e.value)
    else:
        assert expect(call(c))


def test_no_probe_left_a_temp_or_half_written_file(c):
    """Refused writes leave nothing behind: no temp files, no empty videos under final names."""
    assert not [p.name for p in c.tmp.iterdir() if ".part-" in p.name]
    assert all(p.stat().st_size > 0 for p in c.tmp.glob("*.mp4"))
