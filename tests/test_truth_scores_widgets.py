import numpy as np
import pytest
import torch

from faceswap_core import synth
from faceswap_core.evaluation import truth_probe, truth_scores
from faceswap_core.lab.widgets import WarpExplorer


def test_identical_images_score_perfect_and_noise_scores_worse():
    a = torch.rand(2, 3, 32, 32)
    m = torch.ones(2, 1, 32, 32)
    s = truth_scores.scores(a, a, m)
    assert abs(s["ssim"] - 1) < 1e-5 and s["l1"] == 0 and s["psnr"] >= 99
    noisy = (a + 0.1 * torch.randn_like(a)).clamp(0, 1)
    t = truth_scores.scores(noisy, a, m)
    assert t["ssim"] < 0.99 and t["psnr"] < 30 and t["l1"] > 0


def test_mask_limits_the_comparison():
    a = torch.rand(1, 3, 32, 32)
    b = a.clone()
    b[..., :16] = 0  # differs only on the left half
    right = torch.zeros(1, 1, 32, 32)
    right[..., 16:] = 1
    assert truth_scores.masked_l1(a, b, right) == 0
    assert truth_scores.masked_l1(a, b, 1 - right) > 0.1


def test_probe_truth_is_the_right_person(cast_clip):
    """The truth of a swap into tomas looks like tomas; ines's own face is further from it."""
    probe = truth_probe.TruthProbe.from_clip(cast_clip, "tomas", n=6)
    assert probe.source.shape == probe.truth.shape == (6, 3, 64, 64) and probe.mask.mean() > 0.3
    own = truth_probe.TruthProbe.from_clip(cast_clip, "ines", n=6)
    # the "truth" of ines into ines is ines herself: near perfect (only codec noise)
    assert truth_scores.scores(own.source, own.truth, own.mask)["psnr"] > 28
    wrong = probe.baseline()
    assert probe.ceiling()["ssim"] > wrong["ssim"]  # a perfect decoder beats doing nothing
    assert wrong["ssim"] < truth_scores.scores(own.source, own.truth, own.mask)["ssim"]
    assert wrong["l1"] > 0.03


def test_warp_explorer_update_changes_with_sliders():
    face = synth.render(synth.CAST["mei"], synth.Condition(), 128).frame
    ex = WarpExplorer(face)
    w0, t0 = ex.update(strength=0.0, draw=False)
    assert np.array_equal(w0, t0)
    w1, t1 = ex.update(strength=2.0, seed=1, draw=False)
    assert np.array_equal(t1, t0) and np.abs(w1.astype(int) - t1).mean() > 2
    w2, _ = ex.update(strength=2.0, seed=1, rotation=20, draw=False)
    assert not np.array_equal(w2, w1)


@pytest.fixture(scope="module")
def explorer(trained_pair):
    from faceswap_core import workspace
    from faceswap_core.faces import faceset
    from faceswap_core.lab import widgets
    from faceswap_core.training import checkpoint

    ws, model_dir = trained_pair
    model = checkpoint.load_model(model_dir)
    faces, yaw = {}, {}
    for p in ("ines", "tomas"):
        fs = faceset.FaceSet(workspace.faces_dir(ws, p))
        faces[p], yaw[p] = fs.arrays(size=64)[0], fs.poses()[:, 0]
    return widgets.LatentExplorer(model, faces, yaw, k=3)


def test_latent_explorer_slider_changes_the_face_and_decoders_differ(explorer):
    base = explorer.update(pc1=0.0, mix=0.0, decoder="tomas").astype(int)
    moved = explorer.update(pc1=2.0).astype(int)
    assert np.abs(moved - base).mean() > 2  # the slider changes the decoded face
    explorer.update(pc1=0.0)
    other = explorer.update(decoder="ines").astype(int)
    assert np.abs(other - base).mean() > 5  # the same code drawn by the other person's decoder
    mixed = explorer.update(decoder="tomas", mix=1.0).astype(int)
    assert np.abs(mixed - base).mean() > 1
    with pytest.raises(ValueError, match="unknown control"):
        explorer.update(pc9=1.0)


def test_latent_explorer_pca_and_correlations(explorer):
    n = len(explorer.codes)
    assert explorer.scores.shape == (n, 3) and np.all(np.diff(explorer.explained[:3]) <= 0)
    assert np.allclose(explorer.components @ explorer.components.T, np.eye(3), atol=1e-4)
    corr = explorer.correlations({"yaw": explorer.yaw, "person": explorer.labels == "tomas", "flat": np.ones(n)})
    assert all(0 <= v <= 1 for v in corr["yaw"]) and corr["flat"] == [0.0, 0.0, 0.0]
    assert max(corr["yaw"]) > 0.3  # the cast's head turns dominate some direction
    row = explorer.sweep("pc2", [-2, 0, 2], "ines")
    assert len(row) == 3 and not np.array_equal(row[0], row[2])


def test_latent_explorer_widgets_update_the_image_without_a_browser(explorer):
    box = explorer.interactive()
    sliders = {s.description: s for s in box.children[0].children if hasattr(s, "step")}
    before = explorer._image.value
    sliders["direction 1"].value = 2.5
    assert explorer.state["pc1"] == 2.5 and explorer._image.value != before
    toggle = box.children[0].children[-1]
    toggle.value = "ines"
    assert explorer.state["decoder"] == "ines"
