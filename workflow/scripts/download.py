"""Rule `download`: one SHD/SSC split through tonic's download code (md5-verified)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.data.sources.download import download_dataset
from neurokws.utils.rule_support import start_rule

log = start_rule(snakemake)
resources_dir = Path(snakemake.output[0]).parents[1]
paths = download_dataset(snakemake.wildcards.corpus, resources_dir,
                         splits=[snakemake.wildcards.split])
log.info("downloaded %s", paths)
