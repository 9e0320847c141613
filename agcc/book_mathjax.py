"""Sphinx extension: serve MathJax from the book's own files, so equations render offline.

Sphinx loads MathJax from a CDN by default; a reader without network (or a headless browser in
CI) then sees raw TeX. This extension copies the MathJax 2.7 that the ``jupyter-server-mathjax``
package ships (a dependency in ``pyproject.toml``) into ``_build/html/_static/mathjax/`` and
points ``mathjax_path`` at it. Equations carry the paper's numbers with ``\\tag{N}`` (Eq. 1-4),
which the AMS extensions of MathJax's ``TeX-AMS-MML_HTMLorMML`` configuration render, in its
HTML-CSS output with the STIX-Web fonts (the ones the package ships).

Listed in ``_config.yml`` under ``sphinx.extra_extensions``.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import jupyter_server_mathjax

SOURCE = Path(jupyter_server_mathjax.__file__).parent / "static"
TARGET = Path("_static") / "mathjax"  # inside the HTML output folder
CONFIG = "TeX-AMS-MML_HTMLorMML-full"
# What the HTML-CSS output of that configuration loads, with the STIX-Web fonts the package
# ships (the SVG output and the translations of the menus are left out: 6 of its 12 MB).
PARTS = ("MathJax.js", "LICENSE", "config", "extensions", "fonts", "jax/input", "jax/element",
         "jax/output/HTML-CSS", "localization/en")


def _config_inited(app, config) -> None:
    config.mathjax_path = f"mathjax/MathJax.js?config={CONFIG}"
    # MathJax 2 settings (Sphinx writes them as MathJax.Hub.Config). Its TeX delimiters stay the
    # defaults, \( \) and \[ \] (what Sphinx writes), so a "$" in a notebook's table is never math.
    config.mathjax2_config = {"messageStyle": "none",
                              "HTML-CSS": {"availableFonts": [], "webFont": "STIX-Web", "imageFont": None,
                                           "preferredFont": None, "linebreaks": {"automatic": True}}}
    config.mathjax3_config = None


def _copy(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / TARGET
    for part in PARTS:
        src, dst = SOURCE / part, target / part
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        elif not dst.is_file() or dst.stat().st_size != src.stat().st_size:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def setup(app):
    app.connect("config-inited", _config_inited)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
