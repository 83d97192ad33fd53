"""One home per recipe: the kept training settings live in `training.recipe`; chapter 04's parameters, the
experiments of chapters 07-09 and the CLI read them (the notebooks' literals are checked against it here)."""

import ast
from dataclasses import fields

import pytest

from faceswap_core import FaceswapError
from faceswap_core.evaluation import experiments
from faceswap_core.lab import tour
from faceswap_core.training import recipe

# notebook knob -> TrainConfig field (LR_DECAY: decay over the STEPS, or a constant rate)
KNOBS = {"BATCH_SIZE": "batch_size", "LR": "lr", "MASKED": "masked", "SSIM_WEIGHT": "ssim_weight",
         "CLIP_GRAD": "clip_grad"}


def _defaults(nb) -> dict:
    """A chapter's parameter defaults as values (Papermill reports them as source text)."""
    return {k: ast.literal_eval(v) for k, v in tour.notebook_parameters(nb).items()}


def test_the_recipe_is_the_kept_settings_by_model_config():
    lite, original = recipe.recipe("lite", 300), recipe.recipe("original")
    assert (lite.lr, lite.batch_size, lite.masked, lite.ssim_weight, lite.clip_grad, lite.decay_steps) == \
        (1e-3, 32, True, 0.5, 1.0, 300)
    assert original.lr == 5e-5 and original.decay_steps == 0 and original.masked
    assert recipe.recipe("lite", seed=4).seed == 4
    assert recipe.TrainConfig().lr == 5e-5 and not recipe.TrainConfig().masked  # the classic, for comparison
    with pytest.raises(FaceswapError, match="model config 'huge'"):
        recipe.recipe("huge")
    with pytest.raises(FaceswapError, match="learning rate|lr"):
        recipe.recipe("lite", lr=0)


def test_chapter_04_defaults_are_the_recipe():
    nb = next(p for p in tour.chapters() if p.name.startswith("04_"))
    params = _defaults(nb)
    kept = recipe.recipe(params["CONFIG"], params["STEPS"])
    assert {k: params[k] for k in KNOBS} == {k: getattr(kept, f) for k, f in KNOBS.items()}
    assert params["LR_DECAY"] == (kept.decay_steps == params["STEPS"] > 0)
    assert params["FROM_BASE"] == recipe.FROM_BASE  # the base is the start only where the recipe keeps it


@pytest.mark.parametrize("nb", tour.chapters(), ids=lambda p: p.stem)
def test_no_chapter_holds_another_copy_of_the_recipe(nb):
    """A chapter that exposes a recipe knob has the recipe's value (chapters 07-09 train smaller batches on
    purpose: BATCH_SIZE there is the experiments' own, `experiments.Experiment.batch_size`)."""
    params = _defaults(nb)
    kept = recipe.recipe(params.get("CONFIG", "lite"))
    for knob, field in KNOBS.items():
        if knob not in params:
            continue
        expected = getattr(kept, field)
        if knob == "BATCH_SIZE" and "CONFIG" not in params:
            expected = experiments.Experiment().batch_size
        assert params[knob] == expected, f"{nb.name}: {knob} = {params[knob]}, the recipe says {expected}"


def test_the_experiments_train_with_the_recipe():
    exp, kept = experiments.Experiment(), recipe.recipe("lite")
    assert (exp.lr, exp.masked, exp.ssim_weight, exp.clip_grad, exp.decay) == \
        (kept.lr, kept.masked, kept.ssim_weight, kept.clip_grad, True)
    assert {f.name for f in fields(recipe.TrainConfig)} >= set(KNOBS.values())


def test_chapter_knobs_that_mirror_a_library_default_equal_it():
    """One home for every default a chapter and the CLI share: the library's signature (the CLI reads it,
    `cli.arguments.default`); a chapter's literal must equal it. Chapter 05's COLOR is the one deliberate
    exception: on the cast "none" scores best, while the CLI's `lab` suits real footage."""
    from faceswap_core.cli.arguments import default
    from faceswap_core.collect import collect
    from faceswap_core.faces.extraction import extract
    from faceswap_core.swapping.options import SwapOptions

    mirrors = {"01_": {"FRAMES": default(collect, "frames"), "FRAME_SIZE": default(collect, "size"),
                       "MAX_HEIGHT": default(collect, "max_height")},
               "02_": {"CROP_SIZE": default(extract, "size"), "EVERY": default(extract, "every")},
               "05_": {"BLEND": SwapOptions().blend}}
    for prefix, knobs in mirrors.items():
        nb = next(p for p in tour.chapters() if p.name.startswith(prefix))
        params = _defaults(nb)
        assert {k: params[k] for k in knobs} == knobs, nb.name
    assert _defaults(next(p for p in tour.chapters() if p.name.startswith("05_")))["COLOR"] == "none"
