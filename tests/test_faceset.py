
import cv2
import numpy as np
import pytest
import torch

from faceswap_core import FaceswapError, encode, synth
from faceswap_core.faces import align, extraction, faceset


@pytest.fixture(scope="module")
def truth_set(cast_clip, tmp_path_factory):
    ws = tmp_path_factory.mktemp("ws")
    summary = extraction.extract(cast_clip, "ines", ws, detector="truth", size=128, progress=False)
    return ws, summary


def test_extract_with_truth_writes_pngs_and_metadata(truth_set, cast_clip):
    ws, summary = truth_set
    assert (summary.frames, summary.faces_found, summary.kept) == (40, 40, 40)
    fs = faceset.FaceSet(ws / "faces/ines")
    assert len(fs) == 40 and fs.crop_size == 128
    rec = fs.records[7]
    assert rec.source == str(cast_clip) and rec.frame == 7 and rec.detector == "truth"
    assert rec.time == pytest.approx(7 / 25, abs=1e-3)
    truth = synth.load_truth(cast_clip)
    # the recorded pose is estimated from the landmarks and agrees with the rendered one
    assert abs(rec.pose[0] - truth.conditions[7].yaw) < 8
    img = fs.image(7)
    assert img.shape == (128, 128, 3)
    # the crop really is the aligned frame: warp the clip frame with the stored matrix
    from faceswap_core import media
    frames, _ = media.read_frames(cast_clip)
    expect = align.crop(frames[7], np.asarray(rec.matrix), 128)
    assert np.abs(img.astype(float) - expect).mean() < 1.0
    assert "40 kept" in str(summary)


def test_deleting_a_png_removes_that_face(truth_set, tmp_path):
    ws, _ = truth_set
    import shutil
    copy = tmp_path / "copy"
    shutil.copytree(ws / "faces/ines", copy)
    fs = faceset.FaceSet(copy)
    gone = fs.records[3].file
    (copy / gone).unlink()
    fs2 = faceset.FaceSet(copy)
    assert len(fs2) == len(fs) - 1 and gone not in [r.file for r in fs2.records] and fs2.deleted == 1
    assert fs2.records[3].file == fs.records[4].file


def test_dataset_gives_float_tensors_with_masks(truth_set):
    ws, _ = truth_set
    ds = faceset.FaceSet(ws / "faces/ines").dataset(size=64)
    img, mask = ds[0]
    assert img.shape == (3, 64, 64) and mask.shape == (1, 64, 64)
    assert img.dtype == torch.float32 and 0 <= img.min() and img.max() <= 1
    share = float(np.mean([float(ds[i][1].mean()) for i in range(len(ds))]))  # face pixels, over every pose
    assert 0.3 < share < 1.0 and len(ds) == 40


def test_missing_or_damaged_metadata_is_reported(truth_set, tmp_path):
    with pytest.raises(FaceswapError, match="no face set"):
        faceset.FaceSet(tmp_path / "nothing")
    (tmp_path / "half").mkdir()
    with pytest.raises(FaceswapError, match="faces.json: missing"):
        faceset.FaceSet(tmp_path / "half")
    (tmp_path / "half" / "faces.json").write_text('{"crop_size": 1')
    with pytest.raises(FaceswapError, match="damaged metadata"):
        faceset.FaceSet(tmp_path / "half")


def test_existing_set_is_refused_and_replaced_only_on_success(truth_set, cast_clip, tmp_path):
    ws = tmp_path
    extraction.extract(cast_clip, "p", ws, detector="truth", size=64, progress=False)
    meta = (ws / "faces/p/faces.json").read_text()
    with pytest.raises(FaceswapError, match="exists"):
        extraction.extract(cast_clip, "p", ws, detector="truth", size=64, progress=False)
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"nope" * 100)
    with pytest.raises(FaceswapError, match="broken.mp4"):
        extraction.extract([cast_clip, bad], "p", ws, detector="truth", size=64, overwrite=True, progress=False)
    assert (ws / "faces/p/faces.json").read_text() == meta  # the old set is intact
    left = sorted(p.name for p in (ws / "faces").iterdir() if p.name != ".p.lock")  # the writer's lock stays
    assert left == ["p"]  # no temp folders left behind
    yaws = sorted(r.pose[0] for r in faceset.FaceSet(ws / "faces/p").records)
    s = extraction.extract(cast_clip, "p", ws, detector="truth", size=64, overwrite=True, progress=False,
                        yaw_range=(-90, yaws[len(yaws) // 2]))  # the more-left half of the turn only
    assert 0 < s.kept < 40 and s.dropped["pose"] == 40 - s.kept
    assert len(faceset.FaceSet(ws / "faces/p")) == s.kept


def test_filters_and_folders(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, yaw in enumerate([0, 10, -10]):
        r = synth.render(synth.CAST["kofi"], synth.Condition(yaw=yaw), 256)
        cv2.imwrite(str(folder / f"{i}.png"), cv2.cvtColor(r.frame, cv2.COLOR_RGB2BGR))
    (folder / "3.jpg").write_bytes(b"not an image")
    cv2.imwrite(str(folder / "4.png"), np.full((200, 200, 3), 128, np.uint8))  # no face
    s = extraction.extract(folder, "k", tmp_path, detector="cascade", progress=False)
    assert s.frames == 4 and s.unreadable == 1 and s.kept == 3
    assert "1 unreadable" in str(s)
    kept = sorted(p.name for p in (tmp_path / "faces/k").iterdir())
    # nothing kept is never a success: the set of 3 faces stays as it was (an --overwrite must not empty it)
    with pytest.raises(FaceswapError, match=r"no face kept: 4 frames read, \d+ faces found, 0 kept \(dropped: "
                                            r"too small \d+\), 1 unreadable.*faces/k is unchanged"):
        extraction.extract(folder, "k", tmp_path, detector="cascade", progress=False, overwrite=True, min_size=400)
    assert sorted(p.name for p in (tmp_path / "faces/k").iterdir()) == kept
    assert len(faceset.FaceSet(tmp_path / "faces/k")) == 3


def _photos():
    import matplotlib.cbook
    import skimage.data

    grace = cv2.imread(str(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    return cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR), cv2.resize(grace, (512, 600))[44:556]


def test_a_reference_photo_picks_the_person_from_a_frame_of_two_real_faces(tmp_path):
    """Two real people side by side: the reference (another photo of one of them: resized, turned) decides whom
    extract keeps; a reference that matches no one gives an empty set; a photo without a face is one line."""
    astronaut, grace = _photos()
    folder = tmp_path / "two"
    folder.mkdir()
    cv2.imwrite(str(folder / "0.png"), np.concatenate([astronaut, grace], axis=1))  # astronaut left, grace right
    refs = tmp_path / "refs"
    refs.mkdir()
    turned = cv2.warpAffine(grace, cv2.getRotationMatrix2D((256, 256), 10, 0.8), (512, 512))
    cv2.imwrite(str(refs / "grace.jpg"), turned)
    cv2.imwrite(str(refs / "astronaut.png"), cv2.resize(astronaut, (300, 300)))
    for who, ref, x_side in (("grace", "grace.jpg", 1), ("astronaut", "astronaut.png", 0)):
        s = extraction.extract(folder, who, tmp_path, detector="dlib", reference=refs / ref, progress=False)
        assert s.kept == 1 and s.dropped["other person"] == 1, str(s)
        assert (faceset.FaceSet(tmp_path / f"faces/{who}").records[0].box[0] > 512) == bool(x_side)
    stranger = synth.render(synth.CAST["kofi"], synth.Condition(), 256).frame
    cv2.imwrite(str(refs / "kofi.png"), cv2.cvtColor(stranger, cv2.COLOR_RGB2BGR))
    with pytest.raises(FaceswapError, match=r"no face kept: .*not the person 2.*; nothing written"):
        extraction.extract(folder, "kofi", tmp_path, detector="dlib", reference=refs / "kofi.png", progress=False)
    assert not (tmp_path / "faces/kofi").exists()
    with pytest.raises(FaceswapError, match=r"0.png: 2 faces; a reference photo shows the person alone"):
        extraction.extract(folder, "nobody", tmp_path, detector="dlib", reference=folder / "0.png", progress=False)
    cv2.imwrite(str(refs / "blank.png"), np.full((200, 200, 3), 128, np.uint8))
    with pytest.raises(FaceswapError, match=r"blank.png: no face found; a reference photo shows the person alone"):
        extraction.extract(folder, "nobody", tmp_path, detector="dlib", reference=refs / "blank.png", progress=False)
    assert not (tmp_path / "faces/nobody").exists()


def test_cli_extract_summary_and_nothing_kept_is_an_error(cast_clip, tmp_path):
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "faceswap_core.cli", "extract", str(cast_clip), "--person", "i",
                          "--detector", "truth", "--size", "64", "--every", "4", "--workspace", str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "10 frames read" in out.stdout and "10 kept" in out.stdout
    blank = tmp_path / "blank.mp4"
    encode.write_video(blank, [np.full((64, 64, 3), 90, np.uint8)] * 5, fps=5)
    out = subprocess.run([sys.executable, "-m", "faceswap_core.cli", "extract", str(blank), "--person", "b",
                          "--detector", "cascade", "--workspace", str(tmp_path)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 2 and out.stdout == "" and not (tmp_path / "faces/b").exists()
    assert out.stderr.strip() == (f"faceswap-core: error: {blank}: no face kept: 5 frames read, 0 faces found, 0 kept "
                                  "(dropped: none) [detector cascade]; nothing written; check the source, or loosen "
                                  "--min-size, --yaw-range or --reference")


def test_a_folder_of_clips_is_read_as_its_clips(tmp_path):
    from faceswap_core import collect, workspace

    collect.collect("synthetic:mei", "mei", tmp_path, frames=6, size=96)
    folder = workspace.clips_dir(tmp_path, "mei")  # the folder `collect` makes, with its manifest and lock
    s = extraction.extract(folder, "mei", tmp_path, detector="truth", size=64, progress=False)
    assert s.frames == 6 and s.kept == 6


def test_faces_sorts_by_identity_and_sets_the_outlier_aside_recoverably(tmp_path):
    """A set of one person with a stranger in it: sorted by identity the stranger comes last, --prune moves
    its PNG into rejected/ (not deleted), and moving it back restores it."""
    import subprocess
    import sys

    folder = tmp_path / "photos"
    folder.mkdir()
    for k, yaw in enumerate((-20, -10, 0, 10, 20, 5)):
        r = synth.render(synth.CAST["ines"], synth.Condition(yaw=yaw, mouth_open=0.1 * k), 256)
        cv2.imwrite(str(folder / f"{k}.png"), cv2.cvtColor(r.frame, cv2.COLOR_RGB2BGR))
    stranger = synth.render(synth.CAST["kofi"], synth.Condition(yaw=3), 256).frame
    cv2.imwrite(str(folder / "9.png"), cv2.cvtColor(stranger, cv2.COLOR_RGB2BGR))
    s = extraction.extract(folder, "ines", tmp_path, detector="dlib", size=128, progress=False)
    assert s.kept == 7
    fs = faceset.FaceSet(tmp_path / "faces/ines")
    stranger_file = next(r.file for r in fs.records if r.frame == 6)  # images are read in name order
    run = subprocess.run([sys.executable, "-m", "faceswap_core.cli", "faces", "ines", "--sort", "identity", "--prune",
                          "1", "--workspace", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "faces/ines/sorted-by-identity.png").exists() and "set aside 1 faces" in run.stdout
    assert (tmp_path / "faces/ines/rejected" / stranger_file).exists()  # the stranger, moved not deleted
    assert len(faceset.FaceSet(tmp_path / "faces/ines")) == 6
    (tmp_path / "faces/ines/rejected" / stranger_file).rename(tmp_path / "faces/ines" / stranger_file)
    assert len(faceset.FaceSet(tmp_path / "faces/ines")) == 7  # moved back: restored
    bad = subprocess.run([sys.executable, "-m", "faceswap_core.cli", "faces", "ines", "--prune", "7", "--workspace",
                          str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "--prune 7: the set holds 7 faces" in bad.stderr
