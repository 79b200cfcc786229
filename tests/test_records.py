"""A cell's and a deployed model's key: written by the stages, read back by the tables
(neurokws.utils.records); a record without its key is refused, naming the rule to rerun."""

from __future__ import annotations

import json

import pytest

from neurokws.reports.tables import fixed_accuracy_table, float_accuracy_table
from neurokws.utils.errors import DataFormatError
from neurokws.utils.records import (
    CELL_KEY,
    MODEL_KEY,
    CellKey,
    ModelKey,
    cell_of,
    model_of,
    read_record,
    record,
)


def test_a_cell_key_comes_from_the_rules_wildcards_and_names_its_folder():
    cell = CellKey.from_wildcards({"dataset": "digits", "hidden": "128", "delays": "-delays",
                                   "seed": "3"})
    assert cell == CellKey("digits", 128, True, 3)
    assert cell.name == "digits/h128-delays/seed3"
    plain = CellKey.from_wildcards({"dataset": "shd", "hidden": "64", "delays": "", "seed": "1"})
    assert not plain.delays and plain.name == "shd/h64/seed1"
    assert CELL_KEY == ["dataset", "hidden", "delays", "seed"]
    assert MODEL_KEY == ["method", "bits", "delay_bits"]
    with pytest.raises(ValueError, match="quantization method"):
        ModelKey("int", 8, 0)


def test_records_round_trip_through_their_files(tmp_path):
    cell, model = CellKey("digits", 128, True, 3), ModelKey("qat", 4, 3)
    path = tmp_path / "eval_fixed.json"
    path.write_text(json.dumps(record(cell, model, accuracy=0.9)))
    data = read_record(path, "eval_fixed", model=True)
    assert cell_of(data) == cell and model_of(data) == model and data["accuracy"] == 0.9
    assert list(data)[:7] == CELL_KEY + MODEL_KEY   # the key first
    with pytest.raises(ValueError, match="replace the key"):
        record(cell, seed=4)


@pytest.mark.parametrize("drop, message", [
    ("method", "missing method"), ("delay_bits", "missing delay_bits"),
    ("delays", "missing delays")])
def test_a_record_without_its_key_is_refused_with_the_rule_to_rerun(tmp_path, drop, message):
    """Records written before the QAT, delay and delay-bit axes lack their keys: the table
    refuses them (no guessing), naming the file and the rule to rerun."""
    path = tmp_path / "results" / "eval_fixed.json"
    path.parent.mkdir()
    data = record(CellKey("digits", 128, True, 3), ModelKey("ptq", 8, 6), modes={})
    del data[drop]
    path.write_text(json.dumps(data))
    with pytest.raises(DataFormatError, match=message) as info:
        fixed_accuracy_table([], [path], [])
    assert str(path) in str(info.value)
    assert f"snakemake --forcerun eval_fixed -- {path}" in str(info.value)


def test_a_key_of_the_wrong_type_is_refused(tmp_path):
    path = tmp_path / "eval_float.json"
    path.write_text(json.dumps({**record(CellKey("digits", 128, False, 1)), "hidden": "128"}))
    with pytest.raises(DataFormatError, match="not hidden: int"):
        float_accuracy_table([path])
