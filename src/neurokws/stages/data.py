"""Data stage (workflow/rules/data.smk): a corpus through the cochlea, merged into splits,
and the validated event arrays every later stage reads."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from typing import Any

from neurokws.data.formats.events import save_npz
from neurokws.data.formats.heidelberg import read_split, write_split
from neurokws.data.formats.prepared import check_nonempty, split_summary
from neurokws.data.sources.convert import (
    cochlea_from_settings,
    convert_chunk,
    merge_split,
    read_plan,
    save_chunk,
)
from neurokws.data.sources.corpus import renderer
from neurokws.utils.atomic import write_json
from neurokws.utils.provenance import Provenance

PathLike = str | os.PathLike
# HDF5 keeps attributes in the object header (64 KB): speaker names go in while they fit.
SPEAKER_ATTR_BYTES = 48_000


def prepare(raw: PathLike, events: PathLike, summary: PathLike, *, allow_empty: bool,
            provenance: Provenance) -> dict[str, Any]:
    """Rule `prepare`: a Heidelberg-format split (`raw`) checked and stored as the compact
    event arrays (`events`, npz) with its `summary` (JSON); the summary's facts and the
    arrays' bytes in memory."""
    log = logging.getLogger("neurokws.rule.prepare")
    split = read_split(raw)
    check_nonempty(split, str(raw), bool(allow_empty))
    facts = split_summary(split)
    save_npz(events, split)
    write_json(summary, {**facts, "source_file": str(raw), "provenance": provenance()})
    log.info("%s: %d samples, %.0f events/sample", raw, facts["n_samples"],
             facts["events_per_sample_mean"])
    return {**facts, "array_bytes": sum(a.nbytes for a in (split.times_us, split.units,
                                                           split.offsets, split.labels))}


def cochlea_chunk(plan_file: PathLike, out: PathLike | None, *, chunk: int, chunks: int,
                  cochlea: dict[str, Any], settings: dict[str, Any], where: str) -> Any:
    """Rule `cochlea_chunk`: chunk `chunk` of `chunks` of the corpus planned in `plan_file`
    rendered (`settings`: the corpus' own) and through the cochlea (`cochlea`: overrides of
    its constants, `where` the config key they came from); its events, saved to `out`."""
    log = logging.getLogger("neurokws.rule.cochlea_chunk")
    plan = read_plan(plan_file)
    events = convert_chunk(plan, int(chunk), int(chunks), cochlea_from_settings(cochlea, where),
                           renderer(plan, settings), log=log.info)
    if out is not None:
        save_chunk(out, events)
    return events


def cochlea_merge(plan_file: PathLike, chunks: Sequence[PathLike], out: PathLike, *,
                  split_name: str, cochlea: dict[str, Any], provenance: Provenance
                  ) -> int:
    """Rule `cochlea_merge`: the cochlea chunks' clips of one split (`split_name`) of the
    corpus planned in `plan_file`, as one Heidelberg-format HDF5 file; its sample count."""
    log = logging.getLogger("neurokws.rule.cochlea_merge")
    plan = read_plan(plan_file)
    split = merge_split(plan, list(chunks), split_name)
    if len(split) == 0:
        raise ValueError(f"{plan_file}: the corpus has no '{split_name}' clips; check the "
                         "dataset's split settings")
    names = json.dumps(plan["speakers"])   # the plan always has them
    speakers = plan["speakers"] if len(names) < SPEAKER_ATTR_BYTES else f"see {plan_file}"
    write_split(out, split, attrs={
        "source": plan["source"], "speakers": speakers, "cochlea": cochlea,
        "corpus": {k: v for k, v in plan["info"].items() if k != "provenance"},
        "provenance": provenance()})
    log.info("%s: %d samples, %d events", out, len(split), split.n_events)
    return len(split)
