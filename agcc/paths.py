"""Where things live: the project root and the per-profile artifacts folder.

Notebooks hand data to each other only through the artifacts folder of their profile::

    artifacts/<profile>/
        corpora/<name>/        the simulated twin of each registered corpus (agcc.corpora) whose
                               real root is not given: corpora/crema_d/, corpora/msp_improv/
        tables/                tidy tables written by one notebook and read by the next (CSV)
        segments/              vowel tokens: tokens.csv, quality.csv, token_drops.csv, ag_frames.npy,
                               acoustic_frames.npy (agcc.segments.SegmentSet)
        ag_clusters/           the AG cluster model: ag_model.npz (labels of every token, barycenters,
                               divergences), ag_elbow.json (agcc.clustering.ClusteringRun)
        acoustic_clusters/     the acoustic cluster model of the association analysis (same files)
        figures/               figures saved as PNG (the book shows the notebook outputs)
        cache/                 content-keyed caches (acoustic features, ...)
        run.json               parameters, machine, per-notebook wall times and kernel peak memory
                               of the last runner build

Paths never depend on the working directory of the kernel: the project root is found from the
``AGCC_PROJECT_ROOT`` environment variable, else by walking up from the current directory, else from
the installed package, so the same notebook runs under the runner, papermill, nbval or by hand.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def _is_root(path: Path) -> bool:
    return (path / "_toc.yml").is_file() and (path / "agcc").is_dir()


def project_root() -> Path:
    """The folder holding ``_toc.yml`` and ``agcc/`` (the book's source root)."""
    env = os.environ.get("AGCC_PROJECT_ROOT")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if _is_root(candidate):
            return candidate
    package_parent = Path(__file__).resolve().parents[1]
    if _is_root(package_parent):
        return package_parent
    return here


@dataclass(frozen=True)
class Paths:
    """The artifacts layout of one profile (see the module docstring)."""

    root: Path

    @classmethod
    def for_profile(cls, profile: str, artifacts_dir: str = "") -> "Paths":
        root = Path(artifacts_dir) if artifacts_dir else project_root() / "artifacts" / profile
        return cls(root.resolve())

    @property
    def corpora(self) -> Path:
        return self.root / "corpora"

    def corpus(self, name: str) -> Path:
        """Folder of the simulated twin of the corpus registered as ``name``."""
        return self.corpora / name

    @property
    def tables(self) -> Path:
        return self.root / "tables"

    @property
    def figures(self) -> Path:
        return self.root / "figures"

    @property
    def segments(self) -> Path:
        return self.root / "segments"

    @property
    def ag_clusters(self) -> Path:
        return self.root / "ag_clusters"

    @property
    def acoustic_clusters(self) -> Path:
        return self.root / "acoustic_clusters"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def run_record(self) -> Path:
        return self.root / "run.json"

    def make(self) -> "Paths":
        """Create the folders; returns self."""
        for folder in (self.corpora, self.tables, self.figures, self.cache):
            folder.mkdir(parents=True, exist_ok=True)
        return self
