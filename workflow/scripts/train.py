"""Rules `train` and `train_segment`: Eventprop training of one (dataset, hidden, seed) cell,
or of one segment of its epochs (a chain of jobs under a partition's time limit; the last
segment is `train`, which selects and writes the model)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.backends import train_cell
from neurokws.config import TrainSettings, network_config
from neurokws.data.events import load_npz
from neurokws.model.network import load_network, save_model
from neurokws.train.checkpoint import segment_stop, write_segment_marker
from neurokws.train.delays import DelayTraining
from neurokws.train.loop import write_train_log
from neurokws.utils.rule_support import rule_provenance, start_rule

log = start_rule(snakemake)
hidden, seed = int(snakemake.wildcards.hidden), int(snakemake.wildcards.seed)
train_split = load_npz(snakemake.input.train)
spec = snakemake.params.delays   # how delays are learned; None in a cell without delays
delays = None if spec is None else DelayTraining.from_dict(spec)
net = network_config({"model": snakemake.params.model}, hidden, n_out=train_split.n_classes,
                     n_in=train_split.n_channels, delays=delays is not None)
settings = TrainSettings.from_dict(snakemake.params.settings)
valid = snakemake.input.valid if "valid" in snakemake.input.keys() else None
init = None
if "init" in snakemake.input.keys():   # fine-tuning the delay-free twin's model, checked
    twin = network_config({"model": snakemake.params.model}, hidden,
                          n_out=train_split.n_classes, n_in=train_split.n_channels)
    _, init, _, _ = load_network(snakemake.input.init, expected=twin)
if "marker" in snakemake.output.keys():          # train_segment: epochs first..stop - 1
    segment = (int(snakemake.wildcards.first), int(snakemake.wildcards.stop))
elif "previous" in snakemake.input.keys():       # train: the chain's last segment
    segment = (segment_stop(snakemake.input.previous), settings.epochs)
else:
    segment = None
result = train_cell(snakemake.params.backend, net, settings, seed, snakemake.input.train,
                    valid, snakemake.params.cell_dir, delays, init=init, segment=segment)
if "marker" in snakemake.output.keys():
    write_segment_marker(snakemake.output.marker, segment, snakemake.params.cell_dir,
                         rule_provenance(snakemake, dataset=snakemake.wildcards.dataset,
                                         hidden=hidden))
    log.info("trained epochs %d..%d", segment[0], segment[1] - 1)
    sys.exit(0)
write_train_log(Path(snakemake.output.log_csv), result.log_rows)
save_model(snakemake.output.model, net, result.weights, rule_provenance(
    snakemake, dataset=snakemake.wildcards.dataset, hidden=hidden, selection=result.selection,
    selected_epoch=result.selected_epoch, selected_row=result.log_rows[result.selected_epoch],
    init_model=snakemake.input.init if init is not None else None),
    delays=result.delays)
log.info("selected epoch %d by %s", result.selected_epoch, result.selection)
