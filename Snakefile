"""neurokws: Eventprop training of recurrent SNNs on SHD/SSC and deployment to Loihi 2.

Fans out datasets x hidden sizes x seeds from the config. One rule file per stage in
workflow/rules/; the data flow from config to report is drawn in docs/architecture.md.
"""

import os

from snakemake.utils import min_version

min_version("9.0")


# The embedded default applies only when no --configfile is given: a --configfile is the
# run's whole config (Snakemake would merge it over the default, keeping its datasets).
# --config KEY=VALUE overrides apply on top of either.
if not workflow.overwrite_configfiles:

    configfile: os.path.join(workflow.basedir, "config", "config.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/envs.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/deploy.smk"
include: "workflow/rules/fixedpoint.smk"
include: "workflow/rules/profiling.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        all_targets(),
        report_targets(),
    default_target: True
