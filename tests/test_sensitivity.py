"""The sensitivity study (agcc.sensitivity): settings, their parameters, paired gains, readings."""
import pandas as pd
import pytest

from agcc.params import resolve
from agcc.sensitivity import (method_levels, sensitivity_design, sensitivity_gains, sensitivity_reading,
                              sensitivity_settings, setting_name, setting_params)
from agcc.params import defaults
from agcc.train import TrainConfig


def params(**over):
    return resolve("default", over)  # strings parsed as on a command line


def test_settings_vary_one_knob_around_the_profile_value():
    s = sensitivity_settings(params(sens_channel_shift="0, 2", sens_landmark_noise="4", sens_improv_intensity="",
                                    sens_articulatory_deviation=""))
    assert set(s["knob"]) == {"channel_shift", "landmark_noise"}  # an empty list: not varied
    shift = s[s["knob"] == "channel_shift"]
    assert shift["value"].tolist() == [0.0, 1.0, 2.0]  # the profile's 1.0 added, sorted
    assert shift["is_centre"].tolist() == [False, True, False]
    assert (shift["sim_landmark_noise"] == 1.0).all()
    centre = s[s["is_centre"]]
    assert centre["name"].nunique() == 1 and len(centre) == 2  # one centre shared by both knobs
    assert s["name"].nunique() == len(s) - 1
    assert setting_name({"sim_channel_shift": 0.5, "sim_landmark_noise": 1.0, "sim_improv_intensity": 0.5}) == \
        "shift0.5_noise1_intensity0.5"


def test_setting_params_use_small_simulated_corpora():
    p = setting_params(params(crema_d_root="/data/CREMA-D", require_real_corpora=True, sens_crema_actors=4),
                       {"sim_channel_shift": 2.0, "sim_landmark_noise": 1.0, "sim_improv_intensity": 0.5})
    assert p["sim_crema_actors"] == 4 and p["sim_channel_shift"] == 2.0
    assert p["crema_d_root"] == "" and p["require_real_corpora"] is False
    assert p["sim_improv_per_speaker"] == resolve("default")["sens_improv_per_speaker"]


def test_design_uses_each_settings_data_and_the_chosen_gammas(tmp_path):
    settings = sensitivity_settings(params(sens_channel_shift="0", sens_landmark_noise="", sens_articulatory_deviation=""))
    prepared = pd.DataFrame({"name": settings["name"], "data": [str(tmp_path / n) for n in settings["name"]]})
    design = sensitivity_design(TrainConfig.from_params(defaults()), {("AG-CC", "C->I"): 0.3, ("PA-CC", "C->I"): 1.0}, settings, prepared,
                                directions=["C->I"], seeds=[0, 1])
    assert len(design) == 2 * 5 * 2  # settings x arms x seeds
    unused = defaults()["gamma_grid"][0]  # canonical: a gamma Source only does not read is the declared one
    assert {(t["method"], t["gamma"]) for t in design["task"]} == {("Source only", unused), ("AG-CC", 0.3),
                                                                    ("PA-CC", 1.0)}
    # the oracle arms: the same method and gamma with the true target labels, named apart
    labels = {(row.method, row.task["method"], row.task["target_labels"]) for row in design.itertuples()}
    assert labels == {("Source only", "Source only", "pseudo"), ("PA-CC", "PA-CC", "pseudo"),
                      ("AG-CC", "AG-CC", "pseudo"), ("PA-CC (oracle)", "PA-CC", "oracle"),
                      ("AG-CC (oracle)", "AG-CC", "oracle")}
    assert {t["data"] for t in design["task"]} == {str(tmp_path / n) for n in settings["name"]}
    assert design["key"].nunique() == len(design)


def _results():
    """Two values of one knob: at 0 AG-CC gains 4 points over source only on every seed, at 2 nothing;
    with oracle labels AG-CC loses 2 points to PA-CC on every seed at 0 and gains 2 at 2."""
    rows = []
    for value, gain in ((0.0, 4.0), (2.0, 0.0)):
        for seed in range(3):
            base = 50.0 + 8.0 * seed
            for method, uar in (("Source only", base), ("PA-CC", base + 1.0 + seed), ("AG-CC", base + gain),
                                ("PA-CC (oracle)", base + 2.0 + gain), ("AG-CC (oracle)", base + 4.0)):
                rows.append({"knob": "channel_shift", "position": int(value), "value": value, "direction": "C->I",
                             "method": method, "seed": seed, "4-CAT": uar, "anchor_label_acc": 55.0})
    return pd.DataFrame(rows)


def test_gains_are_paired_by_seed_and_the_reading_follows_them():
    gains = sensitivity_gains(_results()).set_index(["value", "baseline"])
    assert gains.loc[(0.0, "Source only"), "diff_mean"] == pytest.approx(4.0)
    assert gains.loc[(0.0, "Source only"), "effect"] == "higher"  # zero spread: paired, not pooled
    assert gains.loc[(2.0, "Source only"), "diff_mean"] == pytest.approx(0.0)
    assert gains.loc[(2.0, "PA-CC"), "diff_mean"] == pytest.approx(-2.0)
    oracle = gains.xs("PA-CC (oracle)", level="baseline")
    assert (oracle["reference"] == "AG-CC (oracle)").all()  # oracle against oracle, never mixed
    assert oracle.loc[0.0, "diff_mean"] == pytest.approx(-2.0) and oracle.loc[0.0, "effect"] == "lower"
    assert oracle.loc[2.0, "diff_mean"] == pytest.approx(2.0) and oracle.loc[2.0, "effect"] == "higher"
    text = sensitivity_reading(gains.reset_index(), "channel_shift")
    assert "of AG-CC over Source only in C->I goes from +4.0 at 0 to +0.0 at 2 (above 0 at 0)" in text
    assert "of AG-CC over PA-CC in C->I" in text and "of AG-CC (oracle) over PA-CC (oracle) in C->I" in text
    levels = method_levels(_results())
    assert len(levels) == 10 and levels["n"].eq(3).all()
