"""Rule `evaluate_float`: float test accuracy, predictions and confusion matrix."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.data.events import load_npz
from neurokws.model.network import load_network
from neurokws.train.evaluate import confusion_frame, evaluate
from neurokws.utils.atomic import write_csv, write_json
from neurokws.utils.rule_support import rule_provenance, start_rule

log = start_rule(snakemake)
net, weights, delays, model_prov = load_network(snakemake.input.model)
result = evaluate(net, weights, load_npz(snakemake.input.test),   # binned block by block
                  delays=delays)
write_csv(snakemake.output.predictions, result.predictions_frame())
write_csv(snakemake.output.confusion, confusion_frame(result.confusion(net.n_out)), index=True)
selected = model_prov["selected_row"]
write_json(snakemake.output.metrics, {
    "dataset": snakemake.wildcards.dataset, "hidden": int(snakemake.wildcards.hidden),
    "delays": bool(snakemake.params.delays), "seed": int(snakemake.wildcards.seed),
    "test_accuracy": result.accuracy,
    "n_test": len(result.labels),
    "train_accuracy": selected.get("train_accuracy"),
    "valid_accuracy": selected.get("valid_accuracy"),
    "selected_epoch": model_prov["selected_epoch"],
    "selection": model_prov["selection"],
    "max_delay": None if delays is None else delays.max_delay,
    **({} if delays is None else delays.stats(net)),
    "fine_tuned_from": model_prov.get("init_model"),   # the delay-free twin, if any
    "hidden_spikes_per_neuron_per_sample":
        float(result.hidden_spikes_per_sample.mean()) / net.n_hidden,
    "provenance": rule_provenance(snakemake),
})
log.info("test accuracy %.4f on %d samples", result.accuracy, len(result.labels))
