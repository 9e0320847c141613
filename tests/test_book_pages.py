"""What a reader meets on the book's pages: legible figures and equations served offline."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from agcc import book_mathjax, paper, plots  # noqa: E402


def _texts(fig):
    return [t for t in fig.findobj(matplotlib.text.Text) if t.get_text().strip() and t.get_visible()]


def _assert_legible(fig):
    """At most MAX_WIDTH_IN wide and no text under MIN_FONT_PT: 9 px or more at the content width."""
    width = fig.get_size_inches()[0]
    assert width <= plots.MAX_WIDTH_IN, width
    small = sorted({(t.get_fontsize(), t.get_text()[:30]) for t in _texts(fig) if t.get_fontsize() < plots.MIN_FONT_PT})
    assert not small, small
    plt.close(fig)


def test_table_ii_bars_and_learning_curves_are_legible_and_legends_sit_off_the_axes():
    methods = ("Upper Bound", "Source only", "AG-CC")
    rows = [{"model": m, "direction": d, "metric": "4-CAT", "mean": 40.0, "ci_low": 38.0, "ci_high": 42.0}
            for m in methods for d in (("C->C", "I->I") if m == "Upper Bound" else ("C->I", "I->C"))]
    fig = plots.plot_table_ii(pd.DataFrame(rows), paper.table_ii(), methods)
    assert fig.legends and not any(ax.get_legend() for ax in fig.axes)  # one legend, above the panels
    _assert_legible(fig)
    history = {k: [1.0, 2.0, 3.0] for k in ("epoch", "val_uar", "ce", "anchor", "triplets", "anchor_label_acc")}
    runs = pd.DataFrame([{"model": "AG-CC", "direction": d, "seed": 0, "history": history, "best_epoch": 2}
                         for d in ("C->I", "I->C")])
    fig = plots.plot_history(runs)
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_visible() and ax.get_title(loc="left")]
    assert titles[0].startswith("(a)") and titles[-1].startswith("(e)")  # lettered, in a grid, not in a row
    assert len({round(ax.get_position().y0, 2) for ax in fig.axes if ax.get_visible()}) == 2
    # every run in every panel, in a colour of its own (not the second run drawn into hidden cells)
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_title(loc="left")]
    assert all({line.get_color() for line in ax.get_lines()} == {"C0", "C1"} for ax in panels)
    _assert_legible(fig)


def test_fig2_is_legible_and_lettered():
    rng = np.random.default_rng(0)
    tokens = pd.DataFrame({"emotion": rng.choice(["neutral", "happiness", "anger", "sadness"], 200),
                           "ag_cluster": rng.integers(0, 10, 200), "acoustic_cluster": rng.integers(0, 10, 200)})
    fig = plots.plot_fig2(tokens, 10, 10)
    assert [ax.get_title(loc="left")[:3] for ax in fig.axes[:4]] == ["(a)", "(b)", "(c)", "(d)"]
    _assert_legible(fig)


def test_mathjax_is_served_from_the_book_files(tmp_path):
    class Config:
        pass

    config = Config()
    book_mathjax._config_inited(None, config)
    script = config.mathjax_path.split("?")[0]
    assert not config.mathjax_path.startswith("http") and (book_mathjax.SOURCE / script.split("/", 1)[1]).is_file()

    class Builder:
        format = "html"

    class App:
        builder, outdir = Builder(), tmp_path

    book_mathjax._copy(App(), None)
    served = tmp_path / "_static" / script
    assert served.is_file()
    config_file = served.parent / "config" / f"{book_mathjax.CONFIG}.js"
    assert config_file.is_file()  # the configuration named in mathjax_path
    assert (served.parent / "jax" / "output" / "HTML-CSS" / "fonts" / "STIX-Web").is_dir()  # the web fonts
