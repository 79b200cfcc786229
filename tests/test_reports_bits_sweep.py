"""The bit-width sweep (reports/bits_sweep.py): per-seed rows, mean/sd over seeds, and a
figure that shows every seed beside the mean +- sd (one collapsed seed visible as one)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.colors import to_rgba

from neurokws.reports.bits_sweep import plot_sweep, seed_table, sweep_table

SEEDS = (1, 2, 3)
BITS = (8, 4, 3)


def emulator(method: str, bits: int, seed: int, delays: bool) -> float:
    """Accuracy (fraction) of one hand-made model; QAT at 3 bits collapses for seed 2."""
    if method == "qat" and bits == 3 and seed == 2:
        return 0.214
    return 0.90 - 0.01 * (8 - bits) - 0.02 * (method == "ptq") - 0.05 * delays + 0.001 * seed


def fixed_table() -> pd.DataFrame:
    """Hand-made accuracy_fixed.csv rows: with and without delays (no QAT with delays)."""
    rows = []
    for delays in (False, True):
        for method in ("ptq",) if delays else ("ptq", "qat"):
            for bits in BITS:
                for seed in SEEDS:
                    rows.append({"dataset": "SHD", "hidden": 128, "delays": delays,
                                 "seed": seed, "method": method, "bits": bits,
                                 "delay_bits": 6 if delays else 0,
                                 "float_test_accuracy": 0.93 + 0.001 * seed,
                                 "float_quantized_accuracy": emulator(method, bits, seed,
                                                                      delays) + 0.001,
                                 "emulator_aligned_accuracy": emulator(method, bits, seed,
                                                                       delays),
                                 "emulator_paper_accuracy": 0.5,
                                 "footprint_bytes": 100.0 * bits,
                                 "connection_sparsity": 0.1,
                                 "effective_synaptic_ops_aligned": 1000.0 + seed,
                                 "activation_sparsity_aligned": 0.9})
    return pd.DataFrame(rows)


def test_seed_table_has_one_row_per_model_in_percent():
    fixed = fixed_table()
    seeds = seed_table(fixed)
    key = ["delays", "method", "bits", "seed"]
    assert len(seeds) == len(fixed) == 3 * len(BITS) * len(SEEDS)
    assert not seeds.duplicated(key).any()
    assert set(zip(*(seeds[k] for k in key), strict=True)) == \
        set(zip(*(fixed[k] for k in key), strict=True))
    collapsed = seeds[(seeds["method"] == "qat") & (seeds["bits"] == 3)].set_index("seed")
    assert collapsed.loc[2, "emulator"] == pytest.approx(21.4)
    assert collapsed.loc[1, "emulator"] == pytest.approx(100 * emulator("qat", 3, 1, False))
    assert collapsed.loc[1, "float"] == pytest.approx(93.1)
    assert (seeds["footprint_bytes"] == 100.0 * seeds["bits"]).all()
    # Order: group, method, bits from 8 down, then seed.
    first = seeds[~seeds["delays"] & (seeds["method"] == "ptq")]
    assert first["bits"].tolist() == [b for b in BITS for _ in SEEDS]
    assert first["seed"].tolist() == list(SEEDS) * len(BITS)


def test_sweep_table_is_mean_and_sd_of_the_seeds():
    seeds = seed_table(fixed_table())
    table = sweep_table(seeds)
    assert len(table) == 3 * len(BITS) and (table["n_seeds"] == len(SEEDS)).all()
    row = table[(table["method"] == "qat") & (table["bits"] == 3)].iloc[0]
    values = [100 * emulator("qat", 3, s, False) for s in SEEDS]
    assert row["emulator_mean"] == pytest.approx(np.mean(values))
    assert row["emulator_sd"] == pytest.approx(np.std(values, ddof=1))
    assert row["emulator_sd"] > 30   # the collapse: a large sd, which alone hides which
    assert row["effective_synaptic_ops_aligned"] == pytest.approx(1002.0)


def test_one_seed_has_no_sd():
    fixed = fixed_table()
    fixed = fixed[(fixed["method"] == "ptq") & (fixed["seed"] == 1)]
    seeds = seed_table(fixed)
    assert (seeds["method"] == "ptq").all() and len(seeds) == 2 * len(BITS)
    table = sweep_table(seeds)
    assert table["emulator_sd"].isna().all() and (table["n_seeds"] == 1).all()


def test_figure_draws_every_seed_beside_its_methods_mean(tmp_path):
    seeds = seed_table(fixed_table())
    seeds.loc[(seeds["method"] == "ptq") & (seeds["bits"] == 8) & (seeds["seed"] == 3)
              & ~seeds["delays"], "emulator"] = np.nan   # not measured: no dot
    fig = plot_sweep(seeds, tmp_path / "s.png", tmp_path / "s.pdf")
    assert (tmp_path / "s.png").stat().st_size > 10_000
    assert (tmp_path / "s.pdf").read_bytes()[:5] == b"%PDF-"
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == ["SHD, N = 128", "SHD, N = 128, delays"]
    for ax, delays in zip(axes, (False, True), strict=True):
        expected = seeds[(seeds["delays"] == delays)].dropna(subset=["emulator"])
        dots = [c for c in ax.collections if isinstance(c, PathCollection)]
        assert sum(len(c.get_offsets()) for c in dots) == len(expected)   # a dot a seed
        # Each method's dots: its seeds' values, in its errorbar line's colour, at its
        # errorbar's x (dodged off the bit width, a different x per method).
        errorbars = list(ax.containers)   # one ErrorbarContainer per method
        assert len(dots) == len(errorbars) == expected["method"].nunique()
        xs = {}
        for dot, bars, (method, rows) in zip(dots, errorbars, expected.groupby("method"),
                                             strict=True):
            got = np.asarray(dot.get_offsets())
            assert sorted(got[:, 1]) == pytest.approx(sorted(rows["emulator"]))
            line = bars.lines[0]
            assert np.allclose(dot.get_facecolor()[:, :3], to_rgba(line.get_color())[:3])
            line_x = np.asarray(line.get_xdata(), dtype=float)
            assert set(np.round(got[:, 0], 6)) <= set(np.round(line_x, 6))
            assert np.allclose(np.round(got[:, 0]), rows["bits"].to_numpy())
            xs[method] = set(np.round(got[:, 0], 6))
        if len(xs) == 2:
            assert not xs["ptq"] & xs["qat"]   # PTQ and QAT dots do not overlap
    # The collapsed seed is a dot of its own, far below the others at QAT 3 bits.
    qat = [c for c in axes[0].collections if isinstance(c, PathCollection)][1]
    at3 = np.asarray(qat.get_offsets())
    at3 = at3[np.round(at3[:, 0]) == 3, 1]
    assert sorted(at3)[0] == pytest.approx(21.4) and sorted(at3)[1] > 85


def test_figure_without_models(tmp_path):
    seeds = seed_table(fixed_table().iloc[:0])
    fig = plot_sweep(seeds, tmp_path / "s.png", tmp_path / "s.pdf")
    assert not [c for ax in fig.axes for c in ax.collections if isinstance(c, PathCollection)]
    assert (tmp_path / "s.png").exists()


def test_delay_bits_are_series_of_their_own(tmp_path):
    """deploy.delay_bits: a delay cell's models at 6- and 3-bit delays are separate rows
    (seed and sweep tables) and separate series in the figure, labelled with their delay
    bits."""
    fixed = fixed_table()
    assert set(seed_table(fixed)[["delays", "delay_bits"]].itertuples(index=False)) == \
        {(False, 0), (True, 6)}
    narrow = fixed[fixed["delays"]].assign(delay_bits=3, emulator_aligned_accuracy=0.5,
                                           footprint_bytes=1.0)
    seeds = seed_table(pd.concat([fixed, narrow], ignore_index=True))
    table = sweep_table(seeds)
    delayed = table[table["delays"]]
    assert len(delayed) == 2 * len(BITS)
    assert delayed["delay_bits"].tolist() == [6, 3] * len(BITS)   # bits, then delay bits
    assert (delayed.loc[delayed["delay_bits"] == 3, "emulator_mean"] == 50.0).all()
    assert (delayed.loc[delayed["delay_bits"] == 3, "footprint_bytes"] == 1.0).all()
    fig = plot_sweep(seeds, tmp_path / "s.png", tmp_path / "s.pdf")
    plain, with_delays = (ax for ax in fig.axes if ax.get_title())
    assert len(plain.containers) == 2 and len(with_delays.containers) == 2
    labels = with_delays.get_legend().get_texts()
    assert {"ptq, 6-bit delays", "ptq, 3-bit delays"} <= {t.get_text() for t in labels}
    assert "ptq, 6-bit delays" not in {t.get_text() for t in plain.get_legend().get_texts()}
    at_half = [c for c in with_delays.collections if isinstance(c, PathCollection)][1]
    assert np.allclose(np.asarray(at_half.get_offsets())[:, 1], 50.0)
