"""The paper's Figure 2: spike rasters of example samples (time in ms, channel on y)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from neurokws import paper
from neurokws.data.formats.events import EventSplit
from neurokws.utils.atomic import atomic_path

COLUMN_WIDTH_IN = 3.5  # the paper's column width (plot_settings.py)
ROW_HEIGHT_IN = 1.45
_RC = {"font.size": 7, "axes.labelsize": 7, "axes.titlesize": 7, "xtick.labelsize": 6,
       "ytick.labelsize": 6, "axes.linewidth": 0.6, "xtick.major.width": 0.6,
       "ytick.major.width": 0.6, "pdf.fonttype": 42}


def pick_examples(split: EventSplit, n_examples: int, seed: int = 0,
                  prefer_word: str | None = None) -> list[int]:
    """Deterministic example indices: distinct classes where possible; the first one of
    class `prefer_word` (exact class name, else a name containing it, e.g. SHD's "zwei")
    when given and present."""
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    if prefer_word and split.keys:
        word = prefer_word.lower()
        matches = [c for c, k in enumerate(split.keys) if k.lower() == word] or [
            c for c, k in enumerate(split.keys) if word in k.lower()]
        cand = np.flatnonzero(np.isin(split.labels, matches) & (split.counts > 0))
        if len(cand):
            chosen.append(int(rng.choice(cand)))
    order = rng.permutation(len(split))
    used = {int(split.labels[i]) for i in chosen}
    for i in order:  # first pass: new classes only, then fill up with anything
        if len(chosen) >= n_examples:
            break
        if int(split.labels[i]) not in used and split.counts[i] > 0:
            chosen.append(int(i))
            used.add(int(split.labels[i]))
    for i in order:
        if len(chosen) >= n_examples:
            break
        if int(i) not in chosen:
            chosen.append(int(i))
    return chosen[:n_examples]


def plot_rasters(splits: Mapping[str, EventSplit], out_png: str | os.PathLike,
                 out_pdf: str | os.PathLike, n_examples: int = 1,
                 keys: Mapping[str, Sequence[str]] | None = None, seed: int = 0,
                 max_time_ms: float = 1000.0, ncols: int | None = None,
                 prefer_words: Mapping[str, str] | None = None) -> None:
    """Raster panels (n_examples per split) at paper column width, written as PNG and PDF.

    Panels are titled "A", "B", ... plus split name and class name (from `keys[name]`, else
    the split's own keys). With one example per split this is the paper's Figure 2 layout
    (one row, e.g. SHD "zwei" next to SSC "left"); more examples wrap into rows of `ncols`.
    """
    if not splits:
        raise ValueError("plot_rasters needs at least one split")
    prefer = paper.FIGURE2_WORDS if prefer_words is None else prefer_words
    panels = []
    for name, split in splits.items():
        names = (keys or {}).get(name) or split.keys
        word = prefer.get(name.lower())
        for i in pick_examples(split, n_examples, seed, word):
            label = int(split.labels[i])
            cls = names[label] if names is not None and label < len(names) else f"class {label}"
            panels.append((name, cls, i, *split.sample(i)))
    ncols = ncols or min(len(panels), 2)
    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(COLUMN_WIDTH_IN, ROW_HEIGHT_IN * nrows), layout="constrained")
    with _rc_context():
        axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False)
        n_channels = max(s.n_channels for s in splits.values())
        for k, ax in enumerate(axes.flat):
            if k >= len(panels):
                ax.set_visible(False)
                continue
            name, cls, i, times, units = panels[k]
            ax.scatter(times / 1000.0, units, s=0.3, marker=".", linewidths=0,
                       color="#1f4e79", rasterized=True)
            ax.set_title(f"{chr(65 + k)}  {name}: \u201c{cls}\u201d", loc="left", pad=2)
            ax.set_xlim(0, max_time_ms)
            ax.set_ylim(0, n_channels)
            ax.set_xticks(np.linspace(0, max_time_ms, 3 if ncols > 2 else 5))
            ax.spines[["top", "right"]].set_visible(False)
            if k % ncols == 0:
                ax.set_ylabel("Channel")
            if k // ncols == nrows - 1 or k + ncols >= len(panels):
                ax.set_xlabel("Time [ms]")
        for path, fmt in ((out_png, "png"), (out_pdf, "pdf")):
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format=fmt, dpi=300)


def _rc_context():
    """Paper-sized fonts and thin lines, without touching global matplotlib state after."""
    import matplotlib

    return matplotlib.rc_context(_RC)
