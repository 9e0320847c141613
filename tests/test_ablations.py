"""Ablation grids (agcc.ablations): values, design, pairing with the default, generated readings."""
import numpy as np
import pandas as pd
import pytest

from agcc.ablations import (ablation_design, ablation_summary, ablation_values, directions_of, k_variant_data,
                            reading, reference_levels, seeds_of, speaker_norm_variant_data, value_label)
from agcc.experiments import run_design
from agcc.params import ParameterError, defaults, resolve
from agcc.train import TrainConfig

from test_train import toy_data


def params(**over):
    return resolve("default", over)  # strings parsed as on a command line


def test_values_follow_the_parameters_in_a_fixed_order():
    values = ablation_values(params(ablation_factors="k,gamma,vowels,target_labels", ablation_gamma="1, 0.1",
                                    ablation_k="5,20", ablation_vowels="a,ə,ɛ,i,æ,u; u,a,i"))
    assert list(values) == ["gamma", "k", "vowels", "target_labels"]
    assert values["gamma"] == [1.0, 0.1] and values["k"] == [5, 20]
    assert values["vowels"] == [("a", "ə", "ɛ", "i", "æ", "u"), ("a", "i", "u")]  # canonical vowel order
    assert values["target_labels"] == ["pseudo", "oracle"]
    with pytest.raises(ParameterError, match="Did you mean beta"):
        ablation_values(params(ablation_factors="gamma,delta"))
    with pytest.raises(ValueError, match="unknown ablation factors"):  # a hand-made dict
        ablation_values({**params(), "ablation_factors": ["gamma", "delta"]})
    assert value_label("vowels", ("a", "ə", "ɛ", "i", "æ", "u")) == "all six"
    assert value_label("vowels", ("a", "i")) == "{a i}"
    assert value_label("soft_weights", False) == "off (w = 1)"


def test_seeds_and_directions():
    assert seeds_of(params(seed=2, n_seeds=3, ablation_seeds=0)) == [2, 3, 4]
    assert seeds_of(params(seed=0, n_seeds=3, ablation_seeds=2)) == [0, 1]
    assert directions_of(params(ablation_directions="C->I, I->C")) == ["C->I", "I->C"]
    with pytest.raises(ParameterError, match="must be one of C->I, I->C"):
        directions_of(params(ablation_directions="C->C"))


def test_design_pairs_every_value_with_the_default_runs(tmp_path):
    base = TrainConfig.from_params(defaults(), max_epochs=1)
    values = {"gamma": [0.1, 3.0], "beta": [0.2, 1.0], "k": [5, 10], "vowels": [("a", "i", "u")],
              "target_labels": ["pseudo", "oracle"]}
    design = ablation_design(base, {"C->I": 1.0}, values, directions=["C->I"], seeds=[0, 1],
                             data_folder=tmp_path / "main", k_folders={5: tmp_path / "k5"}, default_k=10)
    gamma = design[design["factor"] == "gamma"]
    assert list(dict.fromkeys(gamma["value"])) == [0.1, 1.0, 3.0]  # the default gamma added, sorted
    default_rows = design[design["is_default"]]
    # the default setting is one run per seed, shared by every factor
    assert default_rows.groupby("seed")["key"].nunique().tolist() == [1, 1]
    assert len(default_rows) == 2 * len(values)
    assert (design.groupby(["factor", "label"])["seed"].apply(sorted).map(tuple) == (0, 1)).all()
    k5 = design[(design["factor"] == "k") & (design["value"] == 5)]
    assert {t["data"] for t in k5["task"]} == {str(tmp_path / "k5")}
    assert {t["method"] for t in design["task"]} == {"AG-CC"}
    vowels = design[design["factor"] == "vowels"]
    assert list(dict.fromkeys(vowels["label"])) == ["all six", "{a i u}"]  # the default first
    with pytest.raises(ValueError, match="no training data for k = 20"):
        ablation_design(base, {"C->I": 1.0}, {"k": [20]}, directions=["C->I"], seeds=[0], data_folder=tmp_path)


def _results(effect: dict, noise: float = 0.1, seeds=range(4)):
    """Synthetic results of one factor: value -> true effect on UAR; the seed moves every value alike."""
    rows = []
    for position, (value, delta) in enumerate(effect.items()):
        for s in seeds:
            rows.append({"factor": "alpha", "value": value, "label": f"{value:g}", "position": position,
                         "is_default": value == 0.3, "direction": "C->I", "seed": s,
                         "4-CAT": 50.0 + 10.0 * s + delta + noise * ((s * 7 + position) % 3 - 1),
                         "anchor_label_acc": 60.0, "triplets_per_step": 5.0})
    return pd.DataFrame(rows)


def test_summary_pairs_by_seed_and_readings_follow_the_numbers():
    clear = ablation_summary(_results({0.1: 0.0, 0.3: 0.0, 1.0: -5.0})).set_index("label")
    # seeds differ by 10 points, so unpaired intervals overlap, but the paired difference is tight
    assert clear.loc["1", "ci_high"] > clear.loc["0.3", "ci_low"]
    assert clear.loc["1", "diff_mean"] == pytest.approx(-5.0, abs=0.2)
    assert clear.loc["1", "effect"] == "lower" and clear.loc["0.3", "effect"] == "default"
    assert clear.loc["0.3", "diff_mean"] == 0.0
    text = reading(clear.reset_index(), "alpha")
    assert "against the default 0.3, 1 lowered it (paired differences 0.1: " in text
    assert ", 1: -5.0 [-5." in text
    none = ablation_summary(_results({0.1: 0.0, 0.3: 0.0, 1.0: 0.05}, noise=3.0))
    assert set(none["effect"]) == {"default", "no clear difference"}
    assert "no value differed clearly from the default 0.3" in reading(none, "alpha")
    one_seed = ablation_summary(_results({0.3: 0.0, 1.0: 2.0}, seeds=[0]))
    assert "give no interval" in reading(one_seed, "alpha")


def test_oracle_reading_says_it_is_a_diagnostic():
    res = _results({0.3: 0.0, 1.0: 9.0}).assign(factor="target_labels")
    text = reading(ablation_summary(res), "target_labels")
    assert text.startswith("With the true target labels") and "not a transfer result" in text


def test_reference_levels():
    runs = pd.DataFrame({"model": ["Source only"] * 3 + ["AG-CC"], "direction": "C->I", "4-CAT": [50, 52, 54, 99]})
    m, lo, hi = reference_levels(runs)["C->I"]
    assert m == 52 and lo < 52 < hi


def test_run_design_trains_once_per_distinct_run(tmp_path):
    data = toy_data(n_per_split=(16, 8, 8))
    data.save(tmp_path / "data")
    base = TrainConfig.from_params(defaults(), d_model=8, n_heads=2, n_layers=1, d_ff=16, fc_sizes=(8, 8, 8),
                                   max_epochs=1)
    design = ablation_design(base, {"C->I": 1.0}, {"alpha": [0.1], "soft_weights": [True, False]},
                             directions=["C->I"], seeds=[0], data_folder=tmp_path / "data")
    results = run_design(design, tmp_path / "runs", workers=1, progress=False)
    assert len(results) == len(design) == 4
    assert len(list((tmp_path / "runs").glob("*.json"))) == 3  # the default run is shared by both factors
    assert results["4-CAT"].notna().all()
    summary = ablation_summary(results)
    assert set(summary["factor"]) == {"alpha", "soft_weights"}


def _recorded_variants(monkeypatch, tmp_path, main_k: int):
    """The variant builders with clustering and training data recorded, not computed: the list
    the calls go to, and the paths to pass."""
    from types import SimpleNamespace

    import agcc.ablations as ab
    import agcc.segments
    import agcc.stages

    calls = []
    monkeypatch.setattr(ab, "main_clustering_k", lambda paths: main_k)
    monkeypatch.setattr(agcc.segments.SegmentSet, "load", classmethod(lambda cls, folder: "segments"))
    monkeypatch.setattr(agcc.stages, "cached_ag_clustering",
                        lambda segs, seg_folder, folder, **opt: calls.append(("cluster", folder, opt)))
    monkeypatch.setattr(ab, "cached_training_data",
                        lambda paths, p, progress, ag_clusters, folder, frames_of:
                        calls.append(("data", ag_clusters, folder, frames_of)))
    return calls, SimpleNamespace(root=tmp_path, segments=tmp_path / "segments")


def test_k_variants_reuse_the_main_clustering_and_fit_the_others(tmp_path, monkeypatch):
    calls, paths = _recorded_variants(monkeypatch, tmp_path, main_k=10)
    out = k_variant_data(paths, params(), [20, 10, 5], progress=False)
    assert out == {5: tmp_path / "ablations" / "k5" / "training", 10: tmp_path / "training",
                   20: tmp_path / "ablations" / "k20" / "training"}
    fitted = [(c[1], c[2]["k"], c[2]["ks"]) for c in calls if c[0] == "cluster"]
    assert fitted == [(tmp_path / "ablations" / "k5" / "ag_clusters", 5, [5]),
                      (tmp_path / "ablations" / "k20" / "ag_clusters", 20, [20])]
    p = params()
    assert all(c[2]["gamma"] == p["softdtw_gamma"] and c[2]["max_iter"] == p["kmeans_max_iter"]
               and c[2]["seed"] == p["seed"] and c[2]["backend"] == p["clustering_backend"]
               for c in calls if c[0] == "cluster")
    assert [c[1] for c in calls if c[0] == "data"] == [f for f, _, _ in fitted]
    assert {c[3] for c in calls if c[0] == "data"} == {tmp_path / "training"}  # frames shared, not copied


def test_speaker_norm_factor_trains_on_its_own_clustering(tmp_path, monkeypatch):
    """ag_speaker_norm: the profile's value reuses notebook 02's training data, the other value gets a
    clustering fitted with notebook 02's k on the other landmarks, and its runs train on that data."""
    calls, paths = _recorded_variants(monkeypatch, tmp_path, main_k=7)
    values = ablation_values(params(ablation_factors="ag_speaker_norm"))
    assert values == {"ag_speaker_norm": ["none", "per_speaker"]}
    folders = speaker_norm_variant_data(paths, params(), values["ag_speaker_norm"], progress=False)
    variant = tmp_path / "ablations" / "norm_per_speaker"
    assert folders == {"none": tmp_path / "training", "per_speaker": variant / "training"}
    [(_, folder, opt)] = [c for c in calls if c[0] == "cluster"]
    assert folder == variant / "ag_clusters" and opt["speaker_norm"] == "per_speaker" and opt["k"] == 7
    assert [c[1:] for c in calls if c[0] == "data"] == [(variant / "ag_clusters", variant / "training",
                                                         tmp_path / "training")]  # the frames are shared

    base = TrainConfig.from_params(defaults(), max_epochs=1)
    design = ablation_design(base, {"C->I": 1.0}, values, directions=["C->I"], seeds=[0, 1],
                             data_folder=tmp_path / "training", norm_folders=folders, default_norm="none")
    assert list(dict.fromkeys(design["label"])) == ["raw", "per speaker"]  # the default first
    data = design.groupby("value")["task"].apply(lambda t: {x["data"] for x in t})
    assert data["none"] == {str(tmp_path / "training")} and data["per_speaker"] == {str(variant / "training")}
    assert design.groupby("value")["key"].nunique().tolist() == [2, 2]
    with pytest.raises(ValueError, match="needs default_norm"):
        ablation_design(base, {"C->I": 1.0}, values, directions=["C->I"], seeds=[0], data_folder=tmp_path)


def test_profiles_run_the_full_design_only_in_paper():
    paper, default = resolve("paper"), resolve("default")
    assert directions_of(paper) == ["C->I", "I->C"] and directions_of(default) == ["C->I"]
    for name in ("gamma", "beta", "alpha", "k", "overlap", "pseudo"):
        assert len(ablation_values({**paper, "ablation_factors": [_factor(name)]})[_factor(name)]) >= \
            len(ablation_values({**default, "ablation_factors": [_factor(name)]})[_factor(name)])
    assert np.all([f in ablation_values(paper) for f in ablation_values(default)])


def _factor(name):
    return {"overlap": "overlap_threshold", "pseudo": "pseudo_threshold"}.get(name, name)


def test_a_fixed_k_model_does_not_depend_on_the_reduced_elbow_search():
    """clustering_options with a fixed k runs the elbow search on k tokens only; the final model must be the one
    fitted on every validation token, whatever the elbow search saw."""
    from types import SimpleNamespace

    from agcc.stages import clustering_options
    from agcc.clustering import run_ag_clustering

    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 6)[:, None]
    segs = [np.tile(t if i % 2 else 1 - t, (1, 24)) + rng.normal(0, 0.05, (6, 24)) for i in range(30)]
    segments = SimpleNamespace(tokens=pd.DataFrame({"split": ["val"] * 20 + ["train"] * 10}),
                               ag=lambda i: segs[i])
    p = params(kmeans_max_iter=3)
    reduced = run_ag_clustering(segments, progress=False, **clustering_options(p, 2))
    full = run_ag_clustering(segments, progress=False, **{**clustering_options(p, 2), "subsample": 0})
    np.testing.assert_array_equal(reduced.labels, full.labels)
    np.testing.assert_allclose(reduced.barycenters, full.barycenters)
    assert reduced.k == 2 and len(set(reduced.labels)) == 2
