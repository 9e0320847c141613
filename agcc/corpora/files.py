"""File-level helpers shared by the corpus readers: layout search, side files, label-file decoding.

Real releases differ in where they put things (a nested ``AudioWAV/``, ``summaryTable.csv`` under
``processedResults/`` or ``finishedResponses/``), in the case of extensions (``.WAV``), in header
spellings (``Filename`` for ``FileName``) and in text encodings (UTF-16 label files): these helpers
accept each variant once, for every reader, and refuse what they cannot read with the file's name.
"""
from __future__ import annotations

import codecs
from pathlib import Path
from typing import Iterable

import pandas as pd

SIDE_KINDS = (("openface", ".csv", "OpenFace CSV"), ("mfa", ".textgrid", "MFA TextGrid"))


def find(root: Path, *names: str, is_dir: bool) -> Path | None:
    """``root/name`` if present, else the shallowest match below ``root`` of the first name that
    matches (release layouts differ; several names for variant spellings)."""
    for name in names:
        direct = root / name
        if direct.is_dir() if is_dir else direct.is_file():
            return direct
    for name in names:
        hits = [p for p in root.rglob(name) if (p.is_dir() if is_dir else p.is_file())]
        if hits:
            return min(hits, key=lambda p: (len(p.parts), str(p)))
    return None


def files_with_suffix(folder: Path, suffix: str, *, recursive: bool = False) -> list[Path]:
    """Files of ``folder`` (and below, if ``recursive``) whose extension is ``suffix`` in any case
    (``.wav`` and ``.WAV``), sorted."""
    pattern = folder.rglob("*") if recursive else folder.glob("*")
    return sorted(p for p in pattern if p.suffix.lower() == suffix.lower() and p.is_file())


def side_folders(root: Path, landmarks_dir=None, alignments_dir=None) -> dict[str, Path]:
    """Folders of the OpenFace CSVs and MFA TextGrids (defaults ``<root>/openface``, ``<root>/mfa``)."""
    return {"openface": Path(landmarks_dir or root / "openface"), "mfa": Path(alignments_dir or root / "mfa")}


def side_index(folders: dict[str, Path]) -> dict[str, dict[str, Path]]:
    """``{kind: {stem: path}}`` of the side files present (extensions in any case)."""
    out = {}
    for kind, suffix, _ in SIDE_KINDS:
        folder = folders[kind]
        out[kind] = {p.stem: p for p in files_with_suffix(folder, suffix)} if folder.is_dir() else {}
    return out


def side_paths(index: dict[str, dict[str, Path]], *stems: str) -> tuple[str, str]:
    """``(landmarks_path, alignment_path)`` of the first of ``stems`` that has each file, ``""`` if none."""
    found = []
    for kind, _, _ in SIDE_KINDS:
        hit = next((index[kind][s] for s in stems if s in index[kind]), None)
        found.append(str(hit) if hit is not None else "")
    return found[0], found[1]


def orphans(index: dict[str, dict[str, Path]], have: Iterable[str], canonical=lambda s: s) -> dict[str, list[str]]:
    """Side files whose (canonical) stem has no WAV: ``{stem: ["OpenFace CSV", ...]}``."""
    have = set(have)
    out: dict[str, list[str]] = {}
    for kind, _, label in SIDE_KINDS:
        for stem in index[kind]:
            key = canonical(stem)
            if key not in have:
                out.setdefault(key, []).append(label)
    return out


def orphan_reason(kinds: list[str]) -> str:
    return f"{' and '.join(kinds)} without a WAV"


def read_text(path: Path) -> str:
    """A label file's text, its encoding detected: a UTF-8 or UTF-16 byte-order mark, UTF-16 without
    one (NUL bytes in every other position), else UTF-8, else Windows-1252 (never a silent
    replacement character)."""
    data = Path(path).read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    sample = data[:4096]
    if len(sample) >= 4 and sample[1::2].count(0) > 0.4 * len(sample) / 2:
        return data.decode("utf-16-le")
    if len(sample) >= 4 and sample[0::2].count(0) > 0.4 * len(sample) / 2:
        return data.decode("utf-16-be")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="strict")


def read_table(path: Path, required: Iterable[str]) -> pd.DataFrame:
    """A CSV as strings, with the ``required`` column names matched case-insensitively and
    renamed to their canonical spelling (``Filename`` -> ``FileName``); a missing one is refused
    with the file's name and the columns it has."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    table.columns = [str(c).strip() for c in table.columns]
    by_lower = {c.lower(): c for c in table.columns}
    rename, missing = {}, []
    for name in required:
        have = by_lower.get(name.lower())
        if have is None:
            missing.append(name)
        elif have != name:
            rename[have] = name
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; its columns are "
                         f"{', '.join(map(repr, table.columns))}")
    return table.rename(columns=rename)
