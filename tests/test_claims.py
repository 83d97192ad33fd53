"""claims: the verdicts of chapters 07 and 08 and their thresholds, on constructed numbers."""

import pytest

from faceswap_core.evaluation import claims


def _bins(front: float, mid: float, profile: float, n: int = 5) -> list[dict]:
    return [{"yaw": "0-30", "n": n, "mean": front}, {"yaw": "30-60", "n": n, "mean": mid},
            {"yaw": "60-90", "n": n, "mean": profile}]


def test_profile_claim_holds_only_when_profiles_are_clearly_worse():
    full = _bins(0.05, 0.05, 0.05)
    held = claims.profile_claim(_bins(0.045, 0.05, 0.07), full)
    assert held["held"] is True and held["ratio_profile"] == pytest.approx(1.4) and "held here" in held["verdict"]
    uniform = claims.profile_claim(_bins(0.07, 0.07, 0.07), full)  # worse everywhere: not a profile effect
    assert uniform["held"] is False and "did not hold" in uniform["verdict"]
    small = claims.profile_claim(_bins(0.05, 0.05, 0.054), full)  # 1.08x: under the 1.1 threshold
    assert small["held"] is False
    empty = claims.profile_claim(_bins(0.05, 0.05, 0.07, n=0), full)
    assert empty["held"] is None and "PROBE_FRAMES" in empty["verdict"]


def test_size_gains_share_the_best_improvement_or_say_train_longer():
    g = claims.size_gains({30: 0.60, 100: 0.65, 300: 0.70}, baseline=0.55)
    assert g["gain"] == pytest.approx({30: 1 / 3, 100: 2 / 3, 300: 1.0})
    assert "300 faces 100%" in g["verdict"]
    none = claims.size_gains({30: 0.50, 300: 0.54}, baseline=0.55)
    assert none["gain"] == {} and "train longer" in none["verdict"]


def _curve(values, every=10):
    return [{"step": i * every, "ssim": v} for i, v in enumerate(values)]


@pytest.mark.parametrize("tuned,ratio,word", [
    ([0.50, 0.90, 0.90, 0.90, 0.90, 0.90, 0.90, 0.90, 0.90, 0.90, 0.90], 0.1, "faster than the claim"),
    ([0.50, 0.50, 0.50, 0.90, 0.90, 0.90, 0.90, 0.90, 0.90, 0.90, 0.90], 0.4, "the claim held"),
    ([0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.90, 0.90, 0.90, 0.90], 0.8, "did not hold"),
])
def test_reuse_claim_measures_steps_to_the_scratch_level(tuned, ratio, word):
    scratch = _curve([0.50, 0.52, 0.54, 0.56, 0.58, 0.60, 0.62, 0.64, 0.66, 0.68, 0.70])
    r = claims.reuse_claim({0: (scratch, _curve(tuned))})
    row = r["per_seed"][0]
    assert row["steps_scratch"] == 100 and row["level_ssim"] == pytest.approx(0.68)  # smoothed end of scratch
    assert r["mean_ratio"] == pytest.approx(ratio) and word in r["verdict"]


def test_reuse_claim_names_a_degenerate_or_unreached_comparison():
    scratch = _curve([0.50, 0.55, 0.60])
    start_high = claims.reuse_claim({0: (scratch, _curve([0.80, 0.80, 0.80]))})
    assert "not comparable" in start_high["verdict"]
    never = claims.reuse_claim({0: (scratch, _curve([0.40, 0.41, 0.42]))})
    assert never["mean_ratio"] is None and "did not reach" in never["verdict"]
