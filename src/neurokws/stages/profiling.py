"""Profiling stage (workflow/rules/profiling.smk): a deployed model's inference latency
and energy on one device at one batch size."""

from __future__ import annotations

import logging
import os
from typing import Any

from neurokws.data.formats.events import load_npz
from neurokws.profiling.inference.profile import ProfileJob, ProfileOptions, write_rows
from neurokws.profiling.inference.profile import profile as run_profile
from neurokws.utils.provenance import file_sha256
from neurokws.utils.records import CellKey

PathLike = str | os.PathLike


def profile(model: PathLike, net: PathLike, test: PathLike, out: PathLike, *, cell: CellKey,
            device: str, batch: int, paper_dataset: str | None, options: dict[str, Any]
            ) -> list[Any]:
    """Rule `profile`: the float model (`model`) and its NetX file (`net`) on `device` at
    batch size `batch` (neurokws.profiling.inference.profile.PROFILERS); its rows written to
    `out`."""
    log = logging.getLogger("neurokws.rule.profile")
    job = ProfileJob(model_path=model, net_path=net, test=load_npz(test),
                     model_name=cell.name, dataset=cell.dataset, paper_dataset=paper_dataset,
                     extra={"model_sha256": file_sha256(model)})
    rows = run_profile(device, job, int(batch), ProfileOptions.from_dict(options))
    write_rows(out, rows)
    for row in rows:
        log.info("%s %s b=%s: %s ms/sample (%s) %s", row.hardware, row.status,
                 row.batch_size, row.latency_sample_ms, row.method, row.notes)
    return rows
