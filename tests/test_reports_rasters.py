"""Figure 2 rasters: PNG and PDF written atomically, examples picked deterministically."""

from __future__ import annotations

import numpy as np

from neurokws.data.sources.synthetic import generate_split
from neurokws.reports.rasters import pick_examples, plot_rasters


def test_png_and_pdf_written(tmp_path):
    train = generate_split(20, 4, seed=2, speakers=[0, 1])
    test = generate_split(8, 4, seed=2, speakers=[2], split="test")
    png, pdf = tmp_path / "fig" / "rasters.png", tmp_path / "fig" / "rasters.pdf"
    plot_rasters({"train": train, "test": test}, png, pdf, n_examples=2)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5_000
    assert sorted(p.name for p in png.parent.iterdir()) == ["rasters.pdf", "rasters.png"]


def test_pick_examples_distinct_classes_and_preferred_word():
    split = generate_split(40, 5, seed=4, speakers=[0, 1])
    picks = pick_examples(split, 4, seed=1)
    assert len(set(split.labels[picks].tolist())) == 4
    assert picks == pick_examples(split, 4, seed=1)
    word = split.keys[3]
    first = pick_examples(split, 2, seed=0, prefer_word=word)[0]
    assert split.labels[first] == 3
    assert len(pick_examples(split.subset(np.arange(3)), 5)) == 3
