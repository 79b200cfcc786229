"""Rule `summary`: results/summary.md and its HTML page."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

import pandas as pd

from neurokws.reports.accuracy import from_csv_frame
from neurokws.reports.markdown import markdown_to_html
from neurokws.reports.summary import build_summary
from neurokws.utils.atomic import write_text
from neurokws.utils.rule_support import start_rule

start_rule(snakemake)
inputs = snakemake.input
text = build_summary(
    snakemake.params.config, from_csv_frame(pd.read_csv(inputs.accuracy)),
    cost=pd.read_csv(inputs.cost) if "cost" in inputs.keys() else None,
    table2=pd.read_csv(inputs.table2) if "table2" in inputs.keys() else None,
    table2_md=Path(inputs.table2_md).read_text() if "table2_md" in inputs.keys() else None,
    figures=snakemake.params.figures, fixed=pd.read_csv(inputs.fixed),
    sweep=pd.read_csv(inputs.sweep), floats=pd.read_csv(inputs.floats))
write_text(snakemake.output.md, text)
write_text(snakemake.output.html, markdown_to_html(text))
