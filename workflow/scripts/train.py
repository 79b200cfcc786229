"""Rule `train`: Eventprop training of one (dataset, hidden, seed) cell."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.backends import get_trainer
from neurokws.config import network_config, train_settings
from neurokws.data.events import load_npz
from neurokws.model.network import save_model
from neurokws.train.loop import write_train_log
from neurokws.utils.provenance import file_sha256, provenance
from neurokws.utils.rule_support import start_rule

log = start_rule(snakemake)
dataset, hidden, seed = (snakemake.wildcards.dataset, int(snakemake.wildcards.hidden),
                         int(snakemake.wildcards.seed))
train_split = load_npz(snakemake.input.train)
valid_split = load_npz(snakemake.input.valid) if "valid" in snakemake.input.keys() else None
net = network_config(snakemake.config, hidden, n_out=train_split.n_classes,
                     n_in=train_split.n_channels)
settings = train_settings(snakemake.config, dataset, hidden)
train = get_trainer(snakemake.config.get("training", {}).get("backend", "numba"))
result = train(net, settings, seed, train_split, Path(snakemake.params.cell_dir),
               valid_split=valid_split)
write_train_log(Path(snakemake.output.log_csv), result.log_rows)
save_model(snakemake.output.model, net, result.weights, provenance(
    config=snakemake.config, seed=seed, dataset=dataset, hidden=hidden,
    settings=settings.to_dict(), selection=result.selection,
    selected_epoch=result.selected_epoch,
    selected_row=result.log_rows[result.selected_epoch],
    inputs={k: file_sha256(v) for k, v in snakemake.input.items()}))
log.info("selected epoch %d by %s", result.selected_epoch, result.selection)
