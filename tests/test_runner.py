"""The runner: parameters reach a notebook, a failing cell fails the run and is shown,
unknown parameters are refused before anything runs."""
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from agcc import runner
from agcc.params import ParameterError

ROOT = Path(__file__).resolve().parents[1]


def _project(tmp_path, body: str) -> Path:
    """A minimal project: _toc.yml and one notebook whose last cell is `body`."""
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    (tmp_path / "notebooks").mkdir()
    params = new_code_cell('profile = "default"\nseed = 0\nartifacts_dir = ""\nsim_channel_shift = 1.0')
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[
        new_code_cell("import agcc, json"), params,
        new_code_cell("ctx = agcc.setup(globals(), style=False)"),
        new_code_cell(body),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "notebooks" / "01_probe.ipynb")
    return tmp_path


def test_parameters_reach_the_notebook(tmp_path):
    root = _project(tmp_path, "(ctx.paths.tables / 'seen.json').write_text(json.dumps(ctx.params))")
    art = tmp_path / "art"
    record = runner.run("smoke", {"seed": "5", "sim_channel_shift": "0.25", "lr": "0.5", "gamma_grid": "0.1,2",
                                  "artifacts_dir": str(art)}, book=False, root=root, progress=False)
    seen = json.loads((art / "tables" / "seen.json").read_text())
    assert seen["seed"] == 5 and seen["sim_channel_shift"] == 0.25 and seen["profile"] == "smoke"
    # lr and gamma_grid are not in the notebook's parameters cell: they reach it all the same, and
    # the notebook resolves the configuration the run records
    assert seen["lr"] == 0.5 and seen["gamma_grid"] == [0.1, 2.0]
    assert seen == json.loads((art / "run.json").read_text())["params"]
    assert record["notebooks"]["01_probe"]["wall_s"] > 0
    if sys.platform.startswith("linux"):  # the kernel's peak memory, read from /proc before shutdown
        assert record["notebooks"]["01_probe"]["peak_rss_mib"] > 20
    assert record["machine"]["cpu_cores"] >= 1
    executed = nbformat.read(root / "book" / "notebooks" / "01_probe.ipynb", as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    assert json.loads((art / "run.json").read_text())["params"]["seed"] == 5


def test_a_failing_cell_fails_the_run_and_is_shown(tmp_path):
    root = _project(tmp_path, "x = 1\nraise ValueError('boom from the probe')")
    with pytest.raises(runner.NotebookFailed) as info:
        runner.run("smoke", {"artifacts_dir": str(tmp_path / "art")}, book=False, root=root, progress=False)
    message = str(info.value)
    assert "01_probe.ipynb failed in cell" in message
    assert "raise ValueError('boom from the probe')" in message
    assert "ValueError: boom from the probe" in message


def test_unknown_parameter_is_refused_before_running(tmp_path):
    root = _project(tmp_path, "(ctx.paths.tables / 'ran').write_text('')")
    with pytest.raises(ParameterError, match="Unknown parameter 'sede'"):
        runner.run("smoke", {"sede": "1", "artifacts_dir": str(tmp_path / "art")}, book=False, root=root)
    assert not (tmp_path / "art" / "tables" / "ran").exists()


def test_cli_reports_errors_with_exit_codes():
    cmd = [sys.executable, "-m", "agcc", "build", "--profile", "smoke", "-p", "seed", "abc", "--no-book"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert "Parameter 'seed' expects int, got 'abc'" in proc.stderr


def test_papermill_typo_is_refused_by_setup(tmp_path):
    """A notebook executed directly with papermill refuses a misspelt -p."""
    import papermill as pm

    root = _project(tmp_path, "print('ran')")
    with pytest.raises(pm.PapermillExecutionError, match="sim_chanel_shift"):
        pm.execute_notebook(str(root / "notebooks" / "01_probe.ipynb"), str(tmp_path / "out.ipynb"),
                            parameters={"sim_chanel_shift": 0.5, "artifacts_dir": str(tmp_path / "a")},
                            kernel_name="python3", progress_bar=False, cwd=str(root))


def test_papermill_passes_any_declared_parameter(tmp_path):
    """`papermill -p lr 0.5` reaches a notebook whose parameters cell does not show lr; the other
    values are the profile's."""
    import papermill as pm

    from agcc.params import resolve

    root = _project(tmp_path, "(ctx.paths.tables / 'seen.json').write_text(json.dumps(ctx.params))")
    art = tmp_path / "art"
    pm.execute_notebook(str(root / "notebooks" / "01_probe.ipynb"), str(tmp_path / "out.ipynb"),
                        parameters={"profile": "smoke", "lr": 0.5, "artifacts_dir": str(art)},
                        kernel_name="python3", progress_bar=False, cwd=str(root))
    seen = json.loads((art / "tables" / "seen.json").read_text())
    assert seen == resolve("smoke", {"lr": 0.5, "artifacts_dir": str(art)})


def test_toc_lists_every_notebook():
    toc = (ROOT / "_toc.yml").read_text()
    for nb in runner.notebooks(ROOT):
        assert f"book/notebooks/{nb.stem}" in toc, f"{nb.stem} missing from _toc.yml"


def test_clean_executed_drops_progress_bars_and_keeps_other_output(tmp_path):
    from nbformat.v4 import new_output

    cell = new_code_cell("x")
    cell.outputs = [new_output("stream", name="stderr", text="\rgen:   0%|          | 0/4 [00:00<?, ?it/s]"),
                    new_output("stream", name="stderr", text="\rgen:  50%|#####     | 2/4 [00:01<00:01, 2.0it/s]"),
                    new_output("stream", name="stderr", text="\rgen: 100%|##########| 4/4 [00:02<00:00, 2.0it/s]\n"),
                    new_output("stream", name="stderr", text="UserWarning: a real warning\n"),
                    new_output("stream", name="stdout", text="done\n")]
    path = tmp_path / "n.ipynb"
    nbformat.write(new_notebook(cells=[cell]), path)
    runner.clean_executed(path)
    outs = nbformat.read(path, as_version=4).cells[0].outputs
    assert [(o.name, o.text) for o in outs] == [("stderr", "UserWarning: a real warning\n"), ("stdout", "done\n")]


def test_clean_executed_shows_the_parameters_once(tmp_path):
    declared = new_code_cell("seed = 0", metadata={"tags": ["parameters"]})
    injected = new_code_cell("seed = 3", metadata={"tags": ["injected-parameters"]})
    path = tmp_path / "n.ipynb"
    nbformat.write(new_notebook(cells=[declared, injected]), path)
    runner.clean_executed(path)
    cells = nbformat.read(path, as_version=4).cells
    assert "remove-cell" in cells[0].metadata["tags"] and "hide-input" in cells[1].metadata["tags"]
    nbformat.write(new_notebook(cells=[new_code_cell("seed = 0", metadata={"tags": ["parameters"]})]), path)
    runner.clean_executed(path)  # run by hand, no injected cell: the declared values are this run's
    assert nbformat.read(path, as_version=4).cells[0].metadata["tags"] == ["parameters", "hide-input"]


def test_performance_table_is_written_from_the_record(tmp_path):
    record = {"profile": "smoke", "started": "2026-01-02 03:04", "notebooks_wall_s": 12.5,
              "machine": {"cpu_cores": 2, "load_average_1min": 0.5, "platform": "Linux", "python": "3.11",
                          "torch": "2.13.0", "cuda_device": None},
              "notebooks": {"01_data_prep": {"wall_s": 10.04, "peak_rss_mib": 512.3},
                            "02_ag_clustering": {"wall_s": 2.46, "peak_rss_mib": None}}}
    path = tmp_path / "table.md"
    runner.write_performance_table(record, {"book_wall_s": 33.3, "started": "2026-01-01 00:00"}, path)
    text = path.read_text()
    assert "| 01_data_prep | 10.0 | 512 |" in text and "| 02_ag_clustering | 2.5 | n/a |" in text
    assert "**12.5**" in text and "2 CPU cores" in text and "no GPU" in text
    assert "(2026-01-01 00:00) it took 33.3 s" in text
    runner.write_performance_table(record, None, path)
    assert "previous build" not in path.read_text()


def test_kernels_are_quiet_ipc_and_not_interrupted_at_shutdown(monkeypatch):
    import asyncio
    import os

    from jupyter_client.manager import AsyncKernelManager

    manager = runner._peak_memory_kernel_manager({})()
    assert manager.transport == ("ipc" if os.name == "posix" else "tcp")  # no "TCP without encryption" warning
    sent = []

    async def interrupt(self):  # stands in for jupyter_client's SIGINT to the kernel
        sent.append("SIGINT")

    monkeypatch.setattr(AsyncKernelManager, "_async_interrupt_kernel", interrupt)
    manager.shutting_down = True
    asyncio.run(manager._async_interrupt_kernel())
    assert sent == []  # a shutdown begins with no SIGINT: no "KeyboardInterrupt caught in kernel"
    manager.shutting_down = False
    asyncio.run(manager._async_interrupt_kernel())
    assert sent == ["SIGINT"]  # a user's interrupt still goes through
