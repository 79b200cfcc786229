"""Rule `train_qat`: quantization-aware training of one cell at one bit width."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.config import QuantTraining, TrainSettings, network_config, parse_precision
from neurokws.data.events import hold_out, load_npz
from neurokws.model.network import load_network, save_model, with_delay_bits
from neurokws.train.delays import DelayTraining
from neurokws.train.loop import selected_row, train, write_train_log
from neurokws.utils.rule_support import rule_provenance, start_rule

log = start_rule(snakemake)
hidden, seed = int(snakemake.wildcards.hidden), int(snakemake.wildcards.seed)
train_split = load_npz(snakemake.input.train)
delay_spec = snakemake.params.delays   # a cell with delays: how they go on learning
delays = None if delay_spec is None else DelayTraining.from_dict(delay_spec)
_, delay_bits = parse_precision(snakemake.wildcards.bits)   # qat<bits>[d<delay bits>]
net = with_delay_bits(network_config(
    {"model": snakemake.params.model}, hidden, n_out=train_split.n_classes,
    n_in=train_split.n_channels, delays=delays is not None), delay_bits)
init = init_delays = None
if "init" in snakemake.input.keys():   # fine-tuning: the cell's float model, checked; its
    # delays clipped to the delay bits (then they learn within them)
    _, init, init_delays, _ = load_network(snakemake.input.init, expected=net, narrow=True)
spec = QuantTraining.from_dict(snakemake.params.qat)
valid = load_npz(snakemake.input.valid) if "valid" in snakemake.input.keys() else None
settings = TrainSettings.from_dict(snakemake.params.settings)
if valid is None and settings.select_checkpoint == "best_valid":   # fine-tuning (qat_settings)
    train_split, valid = hold_out(train_split, snakemake.params.holdout, seed)
result = train(net, settings, seed, train_split, Path(snakemake.params.cell_dir), valid,
               delays=delays, qat=spec, init=init, init_delays=init_delays)
write_train_log(Path(snakemake.output.log_csv), result.log_rows)
save_model(snakemake.output.model, net, result.weights, rule_provenance(
    snakemake, dataset=snakemake.wildcards.dataset, hidden=hidden, qat=result.qat.to_dict(),
    init_model=snakemake.input.init if init is not None else None, selection=result.selection,
    selection_samples=len(valid) if valid is not None else None,
    selected_epoch=result.selected_epoch, selected_row=selected_row(result)),
    delays=result.delays)
log.info("QAT %d bits: selected epoch %d by %s", spec.bits, result.selected_epoch,
         result.selection)
