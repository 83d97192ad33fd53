"""Our own identity net (trained on made-up people, never the judge) and the identity loss built on it."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from faceswap_core.errors import FaceswapError
from faceswap_core.evaluation import pretraining
from faceswap_core.training import identity_net, model, recipe, remedies, train


def test_the_shipped_net_tells_cast_people_it_never_saw_apart():
    """Trained on seed<N> people only: on the named cast its vectors of one person lie nearer each other than
    to another person's (the shipped net: 80 of 84 held-out faces named right when measured)."""
    net = identity_net.load(identity_net.shipped())
    record = json.loads(identity_net.shipped().with_suffix(".json").read_text())
    assert record["sha256"] == identity_net.file_hash(identity_net.shipped())
    images, masks, who = pretraining.render_faces(["ines", "tomas", "kofi"], 8, seed=5)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    m = torch.from_numpy(masks)[:, None].float() / 255
    means = torch.stack([identity_net.person_vector(net, x[who == k][:4], m[who == k][:4], 0.625)
                         for k in range(3)])
    with torch.no_grad():
        v = net(identity_net.views(x, m, torch.Generator().manual_seed(0), 0.625, blur=False))
    held = np.concatenate([np.flatnonzero(who == k)[4:] for k in range(3)])
    named = (v[held] @ means.T).argmax(1).numpy()
    assert (named == who[held]).mean() >= 0.8


def test_a_damaged_or_foreign_net_is_one_line_naming_the_file(tmp_path):
    bad = tmp_path / "id.safetensors"
    bad.write_bytes(b"not a net")
    with pytest.raises(FaceswapError, match="damaged identity net.*pretrain --identity-net"):
        identity_net.load(bad)
    save_file({"w": torch.zeros(2)}, str(bad), metadata={"format": "something else"})
    with pytest.raises(FaceswapError, match="not a version-1 identity net"):
        identity_net.load(bad)
    with pytest.raises(FaceswapError, match="no identity net here"):
        identity_net.load(tmp_path / "none.safetensors")


def test_a_net_trains_saves_and_loads_back(tmp_path):
    images, masks, who = pretraining.render_faces(["seed100", "seed101"], 4, stride=6)
    net, acc = identity_net.train_net(images, masks, who, steps=3, batch=8, progress=False)
    assert 0.0 <= acc <= 1.0
    out = identity_net.save(net, tmp_path / "id.safetensors", {"people": "2"})
    back = identity_net.load(out)
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(net(x), back(x), atol=2e-3)  # stored as float16
        assert torch.allclose(back(x).norm(dim=1), torch.ones(2), atol=1e-5)


def test_the_identity_loss_pulls_a_swap_towards_the_person_it_names(tmp_path):
    """A few steps of the identity loss alone bring the swap's vector nearer the target person's."""
    images, masks, who = pretraining.render_faces(["ines", "tomas"], 12, seed=3)
    faces = {"ines": (images[who == 0], masks[who == 0]), "tomas": (images[who == 1], masks[who == 1])}
    cfg = recipe.TrainConfig(batch_size=8, lr=1e-3, identity_loss=1.0, identity_view=32, ssim_weight=0.0)
    t = train.Trainer(model.FaceSwapModel.create("lite", ["ines", "tomas"]), faces, tmp_path / "m", cfg, "cpu")
    loss = remedies.IdentityLoss(t)
    t.gen.manual_seed(0)
    start = float(loss(t, "tomas"))
    opt = torch.optim.Adam(t.model.parameters(), lr=1e-3)
    for _ in range(15):
        t.gen.manual_seed(0)
        value = loss(t, "tomas")
        opt.zero_grad()
        value.backward()
        opt.step()
    t.gen.manual_seed(0)
    assert float(loss(t, "tomas")) < start - 0.05
    assert identity_net.soften(torch.rand(1, 3, 64, 64), 0).shape == (1, 3, 64, 64)
