"""Tables across the grid from the per-cell records (neurokws.reports.tables): joined on
the cell's and the model's keys, sorted, the Lava columns where Lava ran."""

from __future__ import annotations

import json

import pytest

from neurokws.reports.tables import fixed_accuracy_table, float_accuracy_table, own_delays
from neurokws.utils.records import CellKey, ModelKey, record


def test_tables_join_float_emulator_and_lava_records_on_their_keys(tmp_path):
    cells = [CellKey("digits", 16, False, 1), CellKey("digits", 16, True, 1)]
    floats, fixed, lava = [], [], []
    for i, cell in enumerate(cells):
        floats.append(tmp_path / f"float{i}.json")
        floats[-1].write_text(json.dumps(record(cell, test_accuracy=0.9 - 0.1 * i,
                                                n_test=10)))
        for bits in (8, 4):
            model = ModelKey("ptq", bits, 6 if cell.delays else 0)
            mode = {"accuracy": bits / 10, "activity_per_sample": {"synaptic_ops": 5.0},
                    "output_spikes": 0}
            fixed.append(tmp_path / f"fixed{i}_{bits}.json")
            fixed[-1].write_text(json.dumps(record(cell, model, modes={"aligned": mode})))
        lava.append(tmp_path / f"lava{i}.json")
        lava[-1].write_text(json.dumps(record(cell, ModelKey("ptq", 8, 6 if cell.delays
                                                             else 0),
                                              input_mode="aligned", accuracy=0.5 + i,
                                              n_samples=4, output_spikes=0)))
    table = fixed_accuracy_table(floats, fixed, lava)
    assert len(table) == 4
    eight = table[table["bits"] == 8].set_index("delays")
    assert eight.loc[False, "lava_aligned_accuracy"] == 0.5
    assert eight.loc[True, "lava_aligned_accuracy"] == 1.5
    assert eight.loc[True, "float_test_accuracy"] == pytest.approx(0.8)
    assert table[table["bits"] == 4]["lava_aligned_accuracy"].isna().all()


def test_float_table_is_one_row_per_cell_sorted_without_delays_first(tmp_path):
    paths = []
    for i, cell in enumerate([CellKey("b", 16, True, 1), CellKey("b", 16, False, 2),
                              CellKey("a", 32, False, 1), CellKey("b", 16, False, 1)]):
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps(record(cell, test_accuracy=0.5, n_test=4,
                                               d_rec_max=3 if cell.delays else None)))
    table = float_accuracy_table(paths)
    assert list(zip(table["dataset"], table["hidden"], table["delays"], table["seed"],
                    strict=True)) == [("a", 32, False, 1), ("b", 16, False, 1),
                                      ("b", 16, False, 2), ("b", 16, True, 1)]
    assert "d_rec_max" in table and "d_in_max" not in table   # delay columns where present


def test_own_delays_keeps_each_models_widest_delay_bits():
    import pandas as pd

    fixed = pd.DataFrame([
        {"dataset": "a", "hidden": 16, "delays": True, "seed": 1, "method": "qat", "bits": 4,
         "delay_bits": b, "x": b} for b in (6, 3, 2)] + [
        {"dataset": "a", "hidden": 16, "delays": False, "seed": 1, "method": "qat",
         "bits": 4, "delay_bits": 0, "x": 0}])
    kept = own_delays(fixed)
    assert sorted(kept["delay_bits"]) == [0, 6]
    assert own_delays(fixed.iloc[:0]).empty
