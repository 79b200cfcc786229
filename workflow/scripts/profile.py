"""Rule `profile`: a deployed model's latency and energy on one device (stages.profiling)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.stages.profiling import profile
from neurokws.utils.records import CellKey
from neurokws.utils.rule_support import start_rule

start_rule(snakemake)
profile(snakemake.input.model, snakemake.input.net, snakemake.input.test, snakemake.output[0],
        cell=CellKey.from_wildcards(snakemake.wildcards), device=snakemake.wildcards.device,
        batch=int(snakemake.wildcards.batch), paper_dataset=snakemake.params.paper_dataset,
        options=snakemake.params.options)
