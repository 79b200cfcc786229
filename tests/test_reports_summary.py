"""summary.md / HTML and the Table II figure from small hand-made tables."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from neurokws.config import default_config
from neurokws.profiling.training.training_cost import cost_table
from neurokws.reports.accuracy import per_seed, summarise, with_paper
from neurokws.reports.inference_cost import layout, normalise, plot_inference_cost
from neurokws.reports.markdown import markdown_table, markdown_to_html
from neurokws.reports.summary import build_summary, hardware

CONFIG = default_config(datasets={"SHD": {"source": "shd", "epochs": 50,
                                          "augmentations": ["shift", "blend"]}},
                        hidden_sizes=[256], seeds=[1, 2], model={"n_steps": 1000})
INFO = {"cpu": "Test CPU", "logical_cores": 2, "usable_cores": 2, "memory_gib": 8.0,
        "gpus": [], "platform": "Linux", "python": "3.11"}


def accuracy() -> pd.DataFrame:
    """SHD N=256, two seeds, float stages only."""
    floats = pd.DataFrame({"dataset": "SHD", "hidden": 256, "seed": [1, 2],
                           "train_accuracy": [0.95, 0.97], "test_accuracy": [0.84, 0.86],
                           "n_test": 2264})
    return with_paper(summarise(per_seed(floats, None, bits=8)), {"SHD": "SHD"})


def table2() -> pd.DataFrame:
    """Table II rows in the profiling stage's columns (one unavailable row)."""
    return pd.DataFrame({
        "source": ["paper", "measured", "estimate", "measured"],
        "hardware": ["Loihi 2", "CPU (test)", "Loihi 2", "NVIDIA GPU"],
        "status": ["ok", "ok", "ok", "unavailable"], "hidden_size": [256, 256, 256, 256],
        "batch_size": [1, 1, 1, 1], "precision": ["int8", "fp32", "int8", "fp32"],
        "latency_batch_ms": [2.33, 5.0, 2.5, np.nan],
        "energy_total_mJ": [0.19, np.nan, 0.2, np.nan],
        "energy_dynamic_mJ": [0.11, np.nan, 0.1, np.nan], "edp_uJs": [0.44, np.nan, 0.5, np.nan]})


def test_summary_names_hardware_numbers_paper_and_provenance():
    cost = cost_table([{"method": m, "n_steps": t, "hidden": 256, "batch_size": 32,
                        "events_per_sample": 8500, "first_batch_s": 1.0,
                        "batch_median_s": s, "batch_min_s": s, "train_mem_mib": mem,
                        "versions": {"spyx": "1"}}
                       for m, t, s, mem in (("eventprop", 1000, 0.02, 12.0),
                                            ("bptt_spyx", 1000, 0.4, 300.0))], 8156)
    text = build_summary(CONFIG, accuracy(), cost=cost, table2=table2(), info=INFO,
                         commit="abc123", figures=["results/figures/accuracy.png"])
    assert "Test CPU (2 logical cores" in text and "GPU: none detected" in text
    assert "85.00 ± 1.41 (n=2)" in text           # ours, mean ± sd over the two seeds
    assert "84.65 ± 1.38 (n=5)" in text           # the paper's SHD N=256 float accuracy
    assert "T=1000: 20.0x" in text                 # BPTT / Eventprop time per epoch
    assert "| measured | CPU (test) | 256 | 1 | 5.0 | – |" in text
    assert "NVIDIA GPU" not in text                # unavailable rows carry no numbers
    assert "Git commit: `abc123`" in text and "Spyx baseline venv: spyx 1" in text
    assert "```yaml" in text and "source: shd" in text
    assert "Warning" not in text


def test_summary_warns_about_output_layer_spikes():
    fixed = pd.DataFrame({"dataset": ["SHD", "SHD"], "hidden": [256, 256], "seed": [1, 2],
                          "bits": [8, 8], "emulator_aligned_output_spikes": [0, 17]})
    text = build_summary(CONFIG, accuracy(), info=INFO, commit="", fixed=fixed)
    warnings = [line for line in text.splitlines() if "Warning" in line]
    assert warnings == ["- **Warning**: SHD N=256 seed 2 int8: 17 output-layer spikes "
                        "(emulator_aligned); the readout of those samples was reset "
                        "(docs/fixedpoint.md#output-threshold)."]


def test_summary_without_optional_stages():
    empty = with_paper(summarise(per_seed(None, None, bits=8)), {})
    text = build_summary(CONFIG, empty, info=INFO, commit="", table2_md="| a |\n|---|\n")
    assert "No accuracy results." in text
    assert "Not run (config `training_cost.enabled: false`)." in text
    assert "| a |" in text and "Git commit: `unknown`" in text


def test_markdown_table_and_html():
    frame = pd.DataFrame({"a": [1.5, math.nan], "b|c": ["x<y", "z"]})
    md = markdown_table(frame)
    assert md.splitlines()[0] == "| a | b\\|c |" and "| – | z |" in md
    page = markdown_to_html("# T\n\n- **bold** `code`\n\n" + md + "\n```\nx < 1\n```\n")
    assert "<h1>T</h1>" in page and "<strong>bold</strong>" in page
    assert "<code>code</code>" in page and "<th>b|c</th>" in page
    assert "<td>x&lt;y</td>" in page and "<pre>x &lt; 1</pre>" in page


def test_hardware_describes_this_machine():
    info = hardware()
    assert info["logical_cores"] >= 1 and info["cpu"]
    assert isinstance(info["gpus"], list)


def test_table2_normalise_accepts_the_alternative_names():
    alt = pd.DataFrame({"hidden_size": [512], "weight_precision": ["int8"],
                        "device": ["Loihi 2"], "batch_size": [1], "energy_total_mJ": [0.27],
                        "energy_dynamic_mJ": [0.15], "latency_ms": [2.37], "edp_uJs": [0.63],
                        "source": ["paper"]})
    frame = normalise(alt)
    assert frame.loc[0, "latency_batch_ms"] == 2.37 and frame.loc[0, "precision"] == "int8"
    assert frame.loc[0, "hardware"] == "Loihi 2"
    assert len(normalise(table2())) == 3


def test_table2_layout_groups_rows_by_hardware():
    headings, slots = layout(normalise(table2()))
    assert [h for h, _ in headings] == ["Loihi 2 (int8)", "CPU (test) (fp32)", "Loihi 2 (int8)"]
    assert slots.tolist() == [1.0, 3.0, 5.0]


def test_table2_figure(tmp_path):
    png, pdf = tmp_path / "inference_cost.png", tmp_path / "inference_cost.pdf"
    plot_inference_cost(table2(), png, pdf)
    assert png.stat().st_size > 10_000 and pdf.read_bytes()[:5] == b"%PDF-"
    with pytest.raises(ValueError):
        plot_inference_cost(table2().iloc[3:], png)


def test_summary_pairs_cells_with_and_without_delays():
    """The learned-delays section: how the cells with delays were trained (from the
    config), each stage's accuracy with and without delays and the difference paired by
    seed (a seed with only one of the two cells is left out), and what was learned."""
    from neurokws.config import default_network
    from neurokws.model.network import Delays
    from neurokws.reports.delays import delay_effect, learned_rows

    config = default_config(datasets={"d": {"source": "synthetic"}}, hidden_sizes=[16],
                            seeds=[1, 2, 3], delays=[False, True],
                            model={"delays": {"max_in": 0, "max_rec": 20}},
                            training={"delays": {"start": "delay_free", "epochs": 4}})
    cell = {"dataset": "d", "hidden": 16}
    fixed = pd.DataFrame([
        {**cell, "seed": s, "delays": d, "method": m, "bits": b,
         "float_test_accuracy": f, "emulator_aligned_accuracy": e,
         "lava_aligned_accuracy": f if b == 8 else np.nan}
        for s, d, f, e in ((1, False, 0.80, 0.78), (1, True, 0.85, 0.84),
                           (2, False, 0.70, 0.70), (2, True, 0.71, 0.69),
                           (3, False, 0.60, 0.60))   # seed 3 has no cell with delays
        for m, b in (("ptq", 8), ("ptq", 4), ("qat", 8))])
    fixed.loc[fixed["bits"] == 4, "emulator_aligned_accuracy"] = 0.1   # not the deployed
    effect = delay_effect(fixed, 8).set_index("stage")
    assert list(effect.index) == ["float_test", "emulator_aligned", "lava_aligned"]
    assert (effect["n_seeds"] == 2).all()
    assert effect.loc["float_test", "difference_mean"] == pytest.approx(3.0)
    assert effect.loc["float_test", "difference_sd"] == pytest.approx(np.std([5, 1], ddof=1))
    assert effect.loc["emulator_aligned", "without_mean"] == pytest.approx(74.0)
    assert effect.loc["emulator_aligned", "difference_mean"] == pytest.approx(2.5)

    net = dataclasses.replace(default_network(n_hidden=2, n_out=2, n_in=3), max_delay_rec=20)
    stats = Delays(np.zeros((3, 2), np.int32), np.array([[0, 4], [8, 0]], np.int32)).stats(net)
    assert stats == {"d_rec_mean": 3.0, "d_rec_max": 8, "d_rec_nonzero": 0.5}
    floats = pd.DataFrame([{**cell, "seed": 1, "delays": False},
                           {**cell, "seed": 1, "delays": True, **stats}])
    learned = learned_rows(floats)
    assert len(learned) == 1 and \
        learned.iloc[0]["recurrent: mean / max (steps), share > 0"] == "3.00 / 8, 0.500"

    text = build_summary(config, accuracy(), info=INFO, commit="abc", fixed=fixed,
                         floats=floats)
    section = text.split("## Learned delays")[1].split("\n## ")[0]
    assert "recurrent 0..20 steps" in section and "input" not in section.split(";")[0]
    assert "fine-tuned from each seed's delay-free model" in section and "4 epochs" in section
    assert "| d | 16 | Test, float32 | 2 | 75.00 ± 7.07 | 78.00 ± 9.90 | +3.00 ± 2.83 |" \
        in section
    assert "3.00 / 8, 0.500" in section
    plain = default_config(datasets={"d": {"source": "synthetic"}})
    assert "## Learned delays" not in build_summary(plain, accuracy(), info=INFO,
                                                    commit="abc", fixed=fixed)
    # from scratch: only the connections that have delays, with the initial draw's clipping
    for delays, start in (({"max_in": 0, "max_rec": 20}, "initial delays recurrent 0 steps"),
                          ({"max_in": 20, "max_rec": 62},
                           "initial delays input uniform on [0, 62] clipped to 20 and "
                           "recurrent 0 steps")):
        scratch = default_config(datasets={"d": {"source": "synthetic"}}, delays=[False, True],
                                 model={"delays": delays},
                                 training={"delays": {"start": "scratch"}})
        text = build_summary(scratch, accuracy(), info=INFO, commit="abc", fixed=fixed)
        assert start in text.split("## Learned delays")[1], start
