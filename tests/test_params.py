"""Profiles and parameter validation (agcc.params, agcc.setup): one typed configuration, checked
once at load, reaching every notebook whether or not its parameters cell shows the name."""
import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import agcc
from agcc.ablations import FACTORS
from agcc.corpora import corpora, cross_directions
from agcc.notebook import given_parameters
from agcc.params import CROSS_CHECKS, ParameterError, check, profile_names, resolve, schema
from agcc.runner import declared_parameters, notebooks
from agcc.train import TrainConfig
from agcc.vocab import VOWELS

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = notebooks(ROOT)


def test_profiles_exist_and_resolve():
    assert set(profile_names()) >= {"smoke", "default", "paper"}
    default = resolve("default")
    assert default["profile"] == "default"
    assert set(default) == set(schema())
    paper = resolve("paper")
    assert (paper["n_ag_clusters"], paper["max_epochs"], paper["batch_size"]) == (10, 70, 64)
    assert (paper["lr"], paper["weight_decay"], paper["features"]) == (1e-4, 1e-3, "wav2vec2")
    assert paper["require_real_corpora"] is True
    assert paper["elbow_ks"] == list(range(5, 31))  # "5-30" in profiles.yml
    smoke = resolve("smoke")
    assert smoke["sim_crema_actors"] < default["sim_crema_actors"]


@pytest.mark.parametrize("profile", profile_names())
def test_defaults_and_every_profile_pass_validation(profile):
    """resolve() checks every value (the declared defaults too) and the cross-parameter rules."""
    values = resolve(profile)
    for name, param in schema().items():
        assert values[name] is not None, name
        if param.depth:
            assert isinstance(values[name], list), name  # real lists, not comma strings


def test_lists_are_real_lists_in_profiles_yml():
    text = (ROOT / "agcc" / "profiles" / "profiles.yml").read_text(encoding="utf-8")
    for name, param in schema().items():
        if param.depth:
            assert isinstance(param.default, list), f"{name}: the default must be a YAML list"
    assert text.count("elbow_ks: \"5-30\"") == 1  # the one range, written as on a command line


def test_overrides_are_parsed_to_declared_types():
    p = resolve("default", {"seed": "7", "sim_channel_shift": "0.5", "require_real_corpora": "yes"})
    assert p["seed"] == 7 and p["sim_channel_shift"] == 0.5 and p["require_real_corpora"] is True
    assert resolve("default", {"sim_channel_shift": 2})["sim_channel_shift"] == 2.0


@pytest.mark.parametrize("name,given,expected", [
    ("gamma_grid", "0.3,1.0", [0.3, 1.0]),
    ("gamma_grid", "[0.3, 1.0]", [0.3, 1.0]),
    ("gamma_grid", " 0.3 , 1 ", [0.3, 1.0]),
    ("gamma_grid", 0.5, [0.5]),  # papermill -p gamma_grid 0.5 injects a float
    ("gamma_grid", (1, 2), [1.0, 2.0]),
    ("elbow_ks", "5-8", [5, 6, 7, 8]),
    ("elbow_ks", "10, 5,5", [5, 10]),  # sorted, duplicates dropped
    ("elbow_ks", "2,4-6", [2, 4, 5, 6]),
    ("elbow_ks", "[3, 2]", [2, 3]),
    ("lacc_layers", "1", [1]),
    ("ablation_directions", "C->I,I->C", ["C->I", "I->C"]),
    ("ablation_directions", "[C->I]", ["C->I"]),
    ("ablation_vowels", "a,ə,ɛ,i,æ,u; u,a,i", [["a", "ə", "ɛ", "i", "æ", "u"], ["u", "a", "i"]]),
    ("ablation_vowels", "[[a, i], [u]]", [["a", "i"], ["u"]]),
    ("ablation_vowels", [["a", "i"]], [["a", "i"]]),
    ("sens_improv_intensity", "", []),
    ("sens_improv_intensity", "[]", []),
    ("n_ag_clusters", "0", 0),  # 0: the elbow's k
    ("overlap_threshold", "0.5", 0.5),  # papermill -r injects a string
    ("wav2vec2_layer", 6, "6"),  # papermill -p parses numbers
])
def test_command_line_strings_become_typed_values(name, given, expected):
    assert resolve("default", {name: given})[name] == expected


# Issue 18's probes (and more): each is refused at load, with the name and what was expected.
PROBES = [
    ("val_fraction", 1.5, "must be in \\(0, 1\\)"),
    ("test_fraction", -0.5, "must be in \\(0, 1\\)"),
    ("val_fraction", 0, "must be in \\(0, 1\\)"),
    ("overlap_threshold", 2.0, "must be in \\[0, 1\\]"),
    ("pseudo_threshold", 2.0, "must be in \\[0, 1\\]"),
    ("n_permutations", -5, ">= 1"),
    ("n_permutations", 0, ">= 1"),
    ("n_seeds", 0, ">= 1"),
    ("batch_size", 0, ">= 1"),
    ("max_epochs", 0, ">= 1"),
    ("n_mels", 0, ">= 1"),
    ("n_acoustic_clusters", 0, ">= 2"),
    ("n_ag_clusters", -3, ">= 2 or 0 \\(the k chosen by the elbow rule\\)"),
    ("n_ag_clusters", 1, ">= 2 or 0"),
    ("max_utt_frames", 0, ">= 1"),
    ("elbow_ks", "5-", "neither an integer nor a range"),
    ("elbow_ks", "1,2", ">= 2"),
    ("elbow_ks", "", "at least 1 item"),
    ("elbow_ks", "8-5", "range '8-5' is empty"),
    ("elbow_ks", "5,,10", "empty item"),
    ("crema_label", "vocie", "must be one of acted, voice, face, multimodal; got 'vocie'. Did you mean voice"),
    ("features", "mfcc", "must be one of logmel, wav2vec2"),
    ("improv_label", "targte", "Did you mean target"),
    ("overlap_reading", "print", "Did you mean printed"),
    ("clustering_backend", "cuda", "one of torch, tslearn"),
    ("feature_norm", "global", "one of per_corpus, source"),
    ("grid_engine", "ray", "one of local, dask"),
    ("target_labels", "true", "one of pseudo, oracle"),
    ("centroid_distance", "cosine", "one of raw, normalized"),
    ("device", "gpu", "must match"),
    ("wav2vec2_layer", "last", "must match"),
    ("lr", 0, "> 0"),
    ("lr", -1e-3, "> 0"),
    ("softdtw_gamma", 0, "> 0"),
    ("dropout", 1.0, "in \\[0, 1\\)"),
    ("patience", 0, ">= 1"),
    ("frame_pool", 0, ">= 1"),
    ("d_model", 0, ">= 1"),
    ("sim_crema_sentences", 13, "in \\[1, 12\\]"),
    ("sim_improv_sessions", 7, "in \\[1, 6\\]"),
    ("sim_crema_intensity", 1.5, "in \\[0, 1\\]"),
    ("sim_channel_shift", -1, ">= 0"),
    ("workers", -1, ">= 0"),
    ("gamma_grid", "", "at least 1 item"),
    ("gamma_grid", "0.3,-1", ">= 0, got -1.0 \\(in \\[0.3, -1.0\\]\\)"),
    ("gamma_grid", "0.3,x", "expects list\\[float\\], got 'x'"),
    ("fc_sizes", "128,0", ">= 1"),
    ("vowels", "a,o", "one of a, ə, ɛ, i, æ, u"),
    ("vowels", "", "at least 1 item"),
    ("ablation_factors", "gamma,delta", "Did you mean beta"),
    ("ablation_directions", "C->C", "one of C->I, I->C"),
    ("ablation_directions", "", "at least 1 item"),
    ("ablation_k", "1,5", ">= 2"),
    ("ablation_overlap", "0,1.5", "in \\[0, 1\\]"),
    ("ablation_pseudo", "0.3,1.2", "in \\[0, 1\\]"),
    ("ablation_vowels", "a,i;o", "one of a, ə"),
    ("ablation_vowels", "a,i;", "empty item"),
    ("ablation_seeds", -1, ">= 0"),
    ("sens_directions", "C->I,I->I", "one of C->I, I->C"),
    ("sens_seeds", 0, ">= 1"),
    ("sens_improv_intensity", "0.5,2", "in \\[0, 1\\]"),
    ("seed", "abc", "expects int, got 'abc'"),
    ("seed", 1.5, "expects int, got float"),
    ("seed", True, "expects int, got bool"),
    ("require_real_corpora", "maybe", "expects bool"),
    ("gamma_grid", {"a": 1}, "expects list\\[float\\], got dict"),
]


@pytest.mark.parametrize("name,value,message", PROBES, ids=[f"{n}={v!r}" for n, v, _ in PROBES])
def test_bad_values_are_refused_at_load(name, value, message):
    with pytest.raises(ParameterError, match=message) as info:
        resolve("default", {name: value})
    assert repr(name) in str(info.value)


CROSS = [
    ({"val_fraction": 0.5, "test_fraction": 0.5}, "val_fraction \\+ test_fraction must be below 1"),
    ({"d_model": 30, "n_heads": 4}, "multiple of n_heads"),
    ({"lacc_layers": "0,4"}, "lacc_layers index"),
    ({"ablation_seeds": 5, "n_seeds": 3}, "ablation_seeds must not exceed n_seeds"),
    ({"elbow_subsample": 20, "elbow_ks": "5-30"}, "elbow_subsample"),
    ({"acoustic_subsample": 5, "n_acoustic_clusters": 10}, "acoustic_subsample"),
]


@pytest.mark.parametrize("given,message", CROSS)
def test_inconsistent_parameters_are_refused(given, message):
    with pytest.raises(ParameterError, match=message):
        resolve("default", given)


def test_cross_checks_name_declared_parameters():
    for names, _, _ in CROSS_CHECKS:
        assert set(names) <= set(schema())


def test_unknown_parameter_and_profile_are_refused_with_a_suggestion():
    with pytest.raises(ParameterError, match="Did you mean seed"):
        resolve("default", {"sedd": 1})
    with pytest.raises(ParameterError, match="Unknown parameter 'lrr'. Did you mean lr"):
        resolve("smoke", {"lrr": "0.5"})
    with pytest.raises(ParameterError, match="Unknown profile 'smok'.*Did you mean smoke"):
        resolve("smok")
    with pytest.raises(ParameterError, match="Unknown profile '3'"):
        resolve(check({"profile": 3})["profile"])


def test_choices_match_the_code_that_reads_them():
    """The lists of allowed names in profiles.yml are those the code enumerates."""
    declared = schema()
    assert declared["ablation_factors"].choices == FACTORS
    assert declared["vowels"].choices == VOWELS == declared["ablation_vowels"].choices
    assert tuple(declared["vowels"].default) == VOWELS
    for name in ("ablation_directions", "sens_directions"):
        assert list(declared[name].choices) == cross_directions(), name
    for corpus in corpora():
        assert corpus.root_param in declared
        if corpus.label_param:
            assert declared[corpus.label_param].choices == tuple(corpus.labels), corpus.label_param
            assert declared[corpus.label_param].default == corpus.labels[0]


def test_params_cli_lists_type_range_and_doc():
    proc = subprocess.run([sys.executable, "-m", "agcc", "params", "--profile", "smoke"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    lines = {line.split()[0]: line for line in proc.stdout.splitlines()[1:]}
    assert set(lines) == set(schema())
    assert "[2, 3, 4, 6]" in lines["elbow_ks"] and "list[int]" in lines["elbow_ks"]
    assert ">= 2 or 0 (the k chosen by the elbow rule)" in lines["n_ag_clusters"]
    assert "one of acted, voice, face, multimodal" in lines["crema_label"]


# ---------------------------------------------------------------------------------------------
# agcc.setup: the notebooks' side
# ---------------------------------------------------------------------------------------------
def _parameter_cell(nb_path):
    nb = json.loads(nb_path.read_text())
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"{nb_path.name}: exactly one cell must be tagged 'parameters'"
    return "".join(cells[0]["source"])


def _namespace(cell: str, injected: dict) -> dict:
    """A kernel's globals after the parameters cell and papermill's injected cell, with the input
    history IPython keeps in ``In``."""
    injected_src = "# Parameters\n" + "".join(f"{k} = {v!r}\n" for k, v in injected.items())
    ns = {"In": ["", "import agcc", cell, injected_src]}
    exec(cell, ns)
    exec(injected_src, ns)
    del ns["__builtins__"]
    return ns


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_parameter_cells_are_short_and_show_the_defaults(nb_path):
    """A notebook run by hand behaves as `make book` (the default profile); its parameters cell
    shows what a reader of the page would change (at most 15 lines)."""
    default = resolve("default")
    source = _parameter_cell(nb_path)
    assert len(source.splitlines()) <= 15, nb_path.name
    assert declared_parameters(nb_path)[:2] == ["profile", "seed"]
    for node in ast.parse(source).body:
        assert isinstance(node, ast.Assign), "the parameters cell holds flat assignments only"
        name = node.targets[0].id
        assert name in default, f"{nb_path.name}: {name} is not declared in profiles.yml"
        assert ast.literal_eval(node.value) == default[name], f"{nb_path.name}: {name}"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_resolves_the_same_config_from_any_parameter(nb_path, tmp_path):
    """papermill -p NAME VALUE reaches every notebook, shown in its cell or not, and every notebook
    resolves the one configuration the runner records (resolve(profile, overrides))."""
    given = {"profile": "smoke", "lr": 0.5, "gamma_grid": "0.1,2", "n_seeds": 3, "artifacts_dir": str(tmp_path)}
    ns = _namespace(_parameter_cell(nb_path), given)
    ctx = agcc.setup(ns, style=False)
    expected = resolve("smoke", {k: v for k, v in given.items() if k != "profile"})
    assert ctx.params == expected
    assert ctx.n_seeds == 3  # injected, equal to the default, unlike smoke's 2: still given
    for name in ast.parse(_parameter_cell(nb_path)).body:  # the shown names hold the values used
        assert ns[name.targets[0].id] == expected[name.targets[0].id]


def test_setup_passes_a_parameter_the_cell_does_not_show_to_the_training_config(tmp_path):
    """The acceptance of issue 13: `papermill 05_anchored_training.ipynb -p profile smoke -p lr 0.5`
    (lr is not in that cell) trains with lr 0.5; `-p lrr 0.5` is refused with a suggestion."""
    cell = _parameter_cell(ROOT / "notebooks" / "05_anchored_training.ipynb")
    assert "lr" not in [n.targets[0].id for n in ast.parse(cell).body]
    ctx = agcc.setup(_namespace(cell, {"profile": "smoke", "lr": 0.5, "artifacts_dir": str(tmp_path)}), style=False)
    assert ctx.lr == 0.5 and TrainConfig.from_params(ctx.params).lr == 0.5
    assert TrainConfig.from_params(ctx.params).max_epochs == resolve("smoke")["max_epochs"]
    with pytest.raises(ParameterError, match="Unknown parameter 'lrr'. Did you mean lr"):
        agcc.setup(_namespace(cell, {"profile": "smoke", "lrr": 0.5, "artifacts_dir": str(tmp_path)}), style=False)


def test_setup_writes_the_checked_values_back(tmp_path):
    """papermill -r injects strings: the notebook must see the typed value (issue 18)."""
    cell = 'profile = "default"\nseed = 0\noverlap_threshold = 0.25\n'
    ns = _namespace(cell, {"profile": "smoke", "overlap_threshold": "0.5", "artifacts_dir": str(tmp_path)})
    agcc.setup(ns, style=False)
    assert ns["overlap_threshold"] == 0.5 and ns["profile"] == "smoke"
    with pytest.raises(ParameterError, match="overlap_threshold"):
        agcc.setup(_namespace(cell, {"overlap_threshold": "2", "artifacts_dir": str(tmp_path)}), style=False)


def test_a_value_edited_in_the_cell_overrides_the_profile(tmp_path):
    edited = _namespace('profile = "default"\nseed = 0\nn_seeds = 5\nlr = 0.001\n',
                        {"profile": "smoke", "artifacts_dir": str(tmp_path)})
    profile, overrides, names = given_parameters(edited)
    assert profile == "smoke" and overrides == {"n_seeds": 5, "artifacts_dir": str(tmp_path)}
    assert set(names) == {"profile", "seed", "n_seeds", "lr", "artifacts_dir"}


def test_setup_without_input_history(tmp_path):
    """Outside IPython (or under nbval, which keeps no history) every plain value counts; values
    equal to the defaults leave the profile's."""
    ns = {"profile": "smoke", "seed": 0, "n_seeds": resolve("default")["n_seeds"], "artifacts_dir": str(tmp_path), "np": json}
    ctx = agcc.setup(ns, style=False)
    assert ctx.n_seeds == resolve("smoke")["n_seeds"] and ctx.paths.root == tmp_path.resolve()
    assert (tmp_path / "tables").is_dir()
    with pytest.raises(ParameterError, match="n_clusters"):
        agcc.setup({"profile": "smoke", "seed": 0, "artifacts_dir": str(tmp_path), "n_clusters": 5}, style=False)
    with pytest.raises(ParameterError, match="seed"):
        agcc.setup({"profile": "smoke", "seed": "x", "artifacts_dir": str(tmp_path)}, style=False)
