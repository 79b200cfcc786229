"""neurokws: Eventprop training of recurrent SNNs on SHD/SSC and deployment to Loihi 2.

Fans out datasets x hidden sizes x seeds from the config (config/config.yaml by default;
config/paper.yaml for the paper's grid). One rule file per stage in workflow/rules/.
"""

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
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
