"""The pretrained base: built by one seeded command, shipped with its hash, loaded with checks, and the start
of a pair's model (its encoder and every decoder) when asked."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from faceswap_core import synth
from faceswap_core.errors import FaceswapError
from faceswap_core.evaluation import pretraining
from faceswap_core.training import model, pretrain, recipe, swap_pretrain, train


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    out = tmp_path_factory.mktemp("base") / "lite.safetensors"
    pretraining.build_base(out, "lite", count=2, frames=16, steps=2, progress=False)
    return out


def test_a_base_records_how_it_was_made_and_holds_no_cast_member(tiny_base):
    meta, tensors = pretrain.load_base(tiny_base, "lite")
    assert meta["people"] == json.dumps(["seed100", "seed101"]) and meta["steps"] == "2"
    assert meta["command"] == "faceswap-core pretrain --config lite --people 2 --frames 16 --steps 2 --seed 0"
    assert json.loads(meta["model_config"]) == json.loads(model.get_config("lite").to_json())
    assert not set(json.loads(meta["people"])) & set(synth.CAST)
    assert {k.split(".")[0] for k in tensors} == {"encoder", "decoder"}


def test_a_model_from_the_base_starts_with_its_encoder_and_generic_decoder(tiny_base, tmp_path):
    _, tensors = pretrain.load_base(tiny_base)
    m = recipe.starting_model(["ana", "ben"], "lite", base=tiny_base)
    enc = m.encoder.state_dict()
    assert all(torch.equal(enc[k[8:]], v) for k, v in tensors.items() if k.startswith("encoder."))
    for p in ("ana", "ben"):
        dec = m.decoders[p].state_dict()
        assert all(torch.equal(dec[k[8:]], v) for k, v in tensors.items() if k.startswith("decoder."))
    scratch = recipe.starting_model(["ana", "ben"], "lite", from_scratch=True)
    assert not torch.equal(scratch.encoder.to_code.weight, m.encoder.to_code.weight)
    # a trainer opened on it is at step 0 with the base's encoder, and trains away from it
    faces = {p: (torch.randint(0, 255, (4, 64, 64, 3), dtype=torch.uint8).numpy(),
                 torch.full((4, 64, 64), 255, dtype=torch.uint8).numpy()) for p in ("ana", "ben")}
    t = train.open_trainer(tmp_path / "m", faces, ["ana", "ben"], "lite", recipe.recipe("lite", 2, batch_size=4),
                           model=m)
    assert t.step == 0 and torch.equal(t.model.encoder.to_code.weight, tensors["encoder.to_code.weight"])
    t.train(1, progress=False)
    assert not torch.equal(t.model.encoder.to_code.weight, tensors["encoder.to_code.weight"])


def test_the_shipped_base_matches_its_record():
    path = pretrain.shipped("lite")
    record = json.loads(path.with_suffix(".json").read_text())
    assert pretrain.file_hash(path) == record["sha256"]
    assert path.stat().st_size == record["bytes"] < 30e6
    meta, tensors = pretrain.load_base(path, "lite")
    assert meta["command"] == record["command"] and meta["format"] == pretrain.FORMAT
    people = json.loads(meta["people"])
    assert len(people) >= 16 and all(p.startswith("seed") and int(p[4:]) >= recipe.FIRST_SEED for p in people)
    assert not {"seed3", "seed8"} & set(people)  # the pair kept aside for measurements
    m = pretrain.from_base(["ines", "tomas"], "lite")
    assert torch.equal(m.encoder.to_code.weight, tensors["encoder.to_code.weight"])


def test_bad_bases_are_one_line_naming_the_file_and_the_rebuild_command(tiny_base, tmp_path):
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(tiny_base.read_bytes()[:500])
    other = tmp_path / "v0.safetensors"
    save_file(load_file(str(tiny_base)), str(other), metadata={"format": pretrain.FORMAT, "version": "0"})
    for path, words in ((damaged, "damaged"), (other, "not a version-1 base"),
                        (tmp_path / "none.safetensors", "no base here")):
        with pytest.raises(FaceswapError) as e:
            pretrain.from_base(["a", "b"], "lite", path)
        msg = str(e.value)
        assert str(path) in msg and words in msg and "faceswap-core pretrain" in msg and "\n" not in msg
    with pytest.raises(FaceswapError, match="not today's 'original'"):
        pretrain.load_base(tiny_base, "original")


def test_pretrain_refuses_too_few_people_and_an_unwritable_place(tmp_path):
    with pytest.raises(FaceswapError, match="at least 2 people"):
        pretraining.build_base(tmp_path / "b.safetensors", count=1, frames=8, steps=1, progress=False)
    with pytest.raises(FaceswapError, match="never the named cast"):
        pretrain.check_people(["seed100", "ines"])
    blocker = tmp_path / "a-file"  # a folder that cannot be made (works as root too, unlike permissions)
    blocker.write_text("x")
    with pytest.raises(FaceswapError, match="cannot write the base there"):
        pretraining.build_base(blocker / "b.safetensors", count=2, frames=16, steps=1, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # nothing half-written


def test_swap_pairs_teach_a_decoder_to_draw_the_person_its_vector_names(tmp_path):
    pairs = pretraining.render_swap_pairs(["seed100", "seed101"], 16, progress=False)
    assert pairs.inputs.shape == pairs.targets.shape == (64, 3, 128, 128) and pairs.masks.shape == (64, 1, 128, 128)
    own, cross = pairs.inputs[0::2], pairs.inputs[1::2]
    assert torch.equal(own, cross)  # each frame gives two pairs with the same input...
    assert torch.equal(pairs.targets[0::2], own)  # ...its own redraw...
    assert (pairs.who[0::2] != pairs.who[1::2]).all()  # ...and a swap into the other person, whose face differs
    assert (pairs.targets[1::2].float() - own.float()).abs().mean() > 5
    base = swap_pretrain.pretrain_swaps(tmp_path / "s.safetensors", pairs, steps=2, frames=16, progress=False)
    meta, tensors = pretrain.load_base(base, "lite")
    assert meta["kind"] == "swaps" and meta["command"].endswith("--swaps")
    m = pretrain.from_base(["ana", "ben"], "lite", base)
    assert m.config.identity_dim == swap_pretrain.IDENTITY_DIM
    for p in ("ana", "ben"):  # both decoders start as the average made-up person, then learn their own
        assert torch.equal(m.decoders[p].identity, tensors["decoder.identity"])
    x = torch.rand(2, 3, 64, 64)
    h = m.encoder(x)
    with torch.no_grad():  # the vector decides what is drawn from the same features
        a = m.decoders["ana"](h)
        b = m.decoders["ana"](h, torch.randn(2, swap_pretrain.IDENTITY_DIM))
    assert not torch.allclose(a, b)
