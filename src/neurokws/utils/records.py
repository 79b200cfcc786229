"""The identity of a cell of the grid and of a model deployed from it, as the per-cell
records (eval_float.json, eval_fixed.json, eval_lava_<mode>.json) write it and as every
table reads it back: one home for both sides.

A cell is (dataset, hidden size, delays, seed); a deployed model of it adds the quantization
method (ptq: post-training, qat: quantization-aware training), the weight bits and the delay
bits (0 without delays). A record lacking one of these was written by an older neurokws and
is refused with the rule to rerun, rather than guessed.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from neurokws.utils.errors import DataFormatError

METHODS = ("ptq", "qat")
DELAY_SUFFIX = "-delays"   # a cell with learned delays: results/<dataset>/h<N>-delays/seed<S>


@dataclass(frozen=True)
class CellKey:
    """One cell: results/<dataset>/h<hidden>[-delays]/seed<seed>/."""

    dataset: str
    hidden: int
    delays: bool
    seed: int

    @classmethod
    def from_wildcards(cls, wildcards: Mapping[str, str]) -> CellKey:
        """From a rule's wildcards (dataset, hidden, delays: "" or "-delays", seed)."""
        return cls(str(wildcards["dataset"]), int(wildcards["hidden"]),
                   wildcards["delays"] == DELAY_SUFFIX, int(wildcards["seed"]))

    @property
    def name(self) -> str:
        """<dataset>/h<hidden>[-delays]/seed<seed>: the cell's folder under results/."""
        suffix = DELAY_SUFFIX if self.delays else ""
        return f"{self.dataset}/h{self.hidden}{suffix}/seed{self.seed}"


@dataclass(frozen=True)
class ModelKey:
    """One deployed model of a cell: <quant><bits>[d<delay_bits>]/ (int: ptq, qat: qat)."""

    method: str
    bits: int
    delay_bits: int

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"quantization method {self.method!r}: one of {METHODS}")


CELL_KEY = [f.name for f in dataclasses.fields(CellKey)]
MODEL_KEY = [f.name for f in dataclasses.fields(ModelKey)]
_TYPES = {"dataset": str, "hidden": int, "delays": bool, "seed": int, "method": str,
          "bits": int, "delay_bits": int}


def record(cell: CellKey, model: ModelKey | None = None, **values: Any) -> dict[str, Any]:
    """A record: the cell's (and model's) key first, then `values`."""
    key = dataclasses.asdict(cell) | ({} if model is None else dataclasses.asdict(model))
    clash = sorted(set(key) & set(values))
    if clash:
        raise ValueError(f"record values {clash} would replace the key")
    return {**key, **values}


def read_record(path: str | os.PathLike, rule: str, model: bool = False) -> dict[str, Any]:
    """A record written by `rule`, its key checked (a model key too where `model`)."""
    with open(path) as handle:
        data = json.load(handle)
    names = CELL_KEY + (MODEL_KEY if model else [])
    missing = [k for k in names if k not in data]
    wrong = [k for k in names if k in data and not _is(data[k], _TYPES[k])]
    if missing or wrong:
        raise DataFormatError(
            f"{path}: {'missing ' + ', '.join(missing) if missing else ''}"
            f"{'; ' if missing and wrong else ''}"
            f"{'not ' + ', '.join(f'{k}: {_TYPES[k].__name__}' for k in wrong) if wrong else ''}"
            f" in its key (written by an older neurokws?): rerun it with "
            f"`snakemake --forcerun {rule} -- {path}`")
    return data


def _is(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def cell_of(data: Mapping[str, Any]) -> CellKey:
    """The cell key of a record read by `read_record`."""
    return CellKey(**{k: data[k] for k in CELL_KEY})


def model_of(data: Mapping[str, Any]) -> ModelKey:
    """The model key of a record read by `read_record(..., model=True)`."""
    return ModelKey(**{k: data[k] for k in MODEL_KEY})
