"""Rule `generate_sequence`: the sequence-detection task (a delay task) in the SHD format."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.data.sources.sequence import SequenceTask, write_sequence_dataset
from neurokws.utils.rule_support import start_rule

log = start_rule(snakemake)
settings = snakemake.params.settings
summary = write_sequence_dataset(snakemake.output.train, snakemake.output.test,
                                 SequenceTask.from_settings(settings),
                                 n_train=int(settings["n_train"]),
                                 n_test=int(settings["n_test"]), seed=int(settings["seed"]))
log.info("generated %s", summary["splits"])
