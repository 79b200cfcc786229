"""Rule `train_qat`: quantization-aware training of one cell at one bit width."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.config import QuantTraining, TrainSettings, network_config
from neurokws.data.events import load_npz
from neurokws.model.network import load_network, save_model
from neurokws.train.loop import train, write_train_log
from neurokws.utils.rule_support import rule_provenance, start_rule

log = start_rule(snakemake)
hidden, seed = int(snakemake.wildcards.hidden), int(snakemake.wildcards.seed)
train_split = load_npz(snakemake.input.train)
net = network_config({"model": snakemake.params.model}, hidden, n_out=train_split.n_classes,
                     n_in=train_split.n_channels)
init = None
if "init" in snakemake.input.keys():   # fine-tuning: the cell's float model, checked
    _, init, _, _ = load_network(snakemake.input.init, expected=net)
spec = QuantTraining.from_dict(snakemake.params.qat)
valid = load_npz(snakemake.input.valid) if "valid" in snakemake.input.keys() else None
result = train(net, TrainSettings.from_dict(snakemake.params.settings), seed, train_split,
               Path(snakemake.params.cell_dir), valid, qat=spec, init=init)
write_train_log(Path(snakemake.output.log_csv), result.log_rows)
save_model(snakemake.output.model, net, result.weights, rule_provenance(
    snakemake, dataset=snakemake.wildcards.dataset, hidden=hidden, qat=spec.to_dict(),
    init_model=snakemake.input.init if init is not None else None, selection=result.selection,
    selected_epoch=result.selected_epoch,
    selected_row=result.log_rows[result.selected_epoch]))
log.info("QAT %d bits: selected epoch %d by %s", spec.bits, result.selected_epoch,
         result.selection)
