"""Profiles and parameter validation (agcc.params, agcc.setup)."""
import ast
import json
from pathlib import Path

import pytest

import agcc
from agcc.params import ParameterError, profile_names, resolve, schema

ROOT = Path(__file__).resolve().parents[1]


def test_profiles_exist_and_resolve():
    assert set(profile_names()) >= {"smoke", "default", "paper"}
    default = resolve("default")
    assert default["profile"] == "default"
    assert set(default) == set(schema())
    paper = resolve("paper")
    assert (paper["n_ag_clusters"], paper["max_epochs"], paper["batch_size"]) == (10, 70, 64)
    assert (paper["lr"], paper["weight_decay"], paper["features"]) == (1e-4, 1e-3, "wav2vec2")
    assert paper["require_real_corpora"] is True
    smoke = resolve("smoke")
    assert smoke["sim_crema_actors"] < default["sim_crema_actors"]


def test_overrides_are_parsed_to_declared_types():
    p = resolve("default", {"seed": "7", "sim_channel_shift": "0.5", "require_real_corpora": "yes"})
    assert p["seed"] == 7 and p["sim_channel_shift"] == 0.5 and p["require_real_corpora"] is True
    assert resolve("default", {"sim_channel_shift": 2})["sim_channel_shift"] == 2.0


def test_unknown_parameter_is_refused_with_a_suggestion():
    with pytest.raises(ParameterError, match="Did you mean seed"):
        resolve("default", {"sedd": 1})


@pytest.mark.parametrize("name,value", [("seed", "abc"), ("seed", 1.5), ("seed", True),
                                        ("require_real_corpora", "maybe"), ("profile", 3)])
def test_wrong_types_are_refused(name, value):
    with pytest.raises(ParameterError, match=name):
        resolve("default", {name: value})


def test_unknown_profile_is_refused():
    with pytest.raises(ParameterError, match="Unknown profile"):
        resolve("fast")


def test_setup_refuses_an_undeclared_notebook_variable(tmp_path):
    ns = {"profile": "smoke", "seed": 0, "artifacts_dir": str(tmp_path), "n_clusters": 5}
    with pytest.raises(ParameterError, match="n_clusters"):
        agcc.setup(ns, style=False)


def test_setup_refuses_a_wrong_type_and_returns_a_context(tmp_path):
    with pytest.raises(ParameterError, match="seed"):
        agcc.setup({"profile": "smoke", "seed": "x", "artifacts_dir": str(tmp_path)}, style=False)
    ctx = agcc.setup({"profile": "smoke", "seed": 3, "artifacts_dir": str(tmp_path), "np": json},
                     style=False)
    assert ctx.seed == 3 and ctx.paths.root == tmp_path.resolve()
    assert (tmp_path / "tables").is_dir()


def _parameter_cell(nb_path):
    nb = json.loads(nb_path.read_text())
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"{nb_path.name}: exactly one cell must be tagged 'parameters'"
    return "".join(cells[0]["source"])


@pytest.mark.parametrize("nb_path", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_notebook_parameter_defaults_are_the_default_profile(nb_path):
    """A notebook run by hand behaves as `make book` (the default profile)."""
    default = resolve("default")
    for node in ast.parse(_parameter_cell(nb_path)).body:
        assert isinstance(node, ast.Assign), "the parameters cell holds flat assignments only"
        name = node.targets[0].id
        assert name in default, f"{nb_path.name}: {name} is not declared in profiles.yml"
        assert ast.literal_eval(node.value) == default[name], f"{nb_path.name}: {name}"
