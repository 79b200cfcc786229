"""Why QAT fine-tuning can end below post-training quantization: batch by batch.

Fine-tunes one float model at one bit width the way `training.qat` does (same epochs, data
pipeline, augmentation, Adam, cosine annealing, straight-through gradient), on the training
split less a held-out tenth, and records after every batch:

* the power-of-two scale exponents of both layers and the share of integers that changed;
* Adam's step in units of the weight step ("quanta") of the starting model's PTQ scale;
* the deployed model's loss and accuracy on the held-out samples (no augmentation), every
  `--eval-every` batches and at each epoch's end, beside the epoch's online training
  accuracy, which is what `select_checkpoint: best_train` selects on.

Two recipes, side by side on the same data and seed:

* `before` (neurokws at commit 9c19401): the scale re-derived from the percentile every
  batch, Adam at `--lr` (1e-3), selection by online training accuracy;
* `after` (train/qat.py now): the scales held at PTQ's, Adam at `--lr-quanta` weight
  steps, shadow weights held within half a step of the range. The summary names the epoch
  that online training accuracy would select and the best held-out one (what the
  workflow's selection on the held-out deployed integers picks, PTQ being the candidate
  before epoch 0 and `training.qat.margin_se` the bar to replace it).

Usage (after `make run`, or any run that trained the default cells):

    .venv/bin/python benchmarks/diagnose_qat.py results/digits/h128/seed2/model.npz \\
        results/digits/prepared/train.npz --bits 3 [--csv out.csv]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import pandas as pd
import yaml

from neurokws.config import QuantTraining, qat_settings, resolve_config
from neurokws.data.formats.binning import bin_events
from neurokws.data.formats.events import hold_out, load_npz
from neurokws.model.engine import RegConfig, infer, loss_and_grad
from neurokws.model.network import load_network
from neurokws.train.loop import epoch_data, epoch_rng
from neurokws.train.optimizer import Adam
from neurokws.train.qat import clamp_shadow, fake_quantize, fix_scale, quanta
from neurokws.train.schedule import LearningRateSchedule


def deployed_metrics(net, weights, spec, held) -> tuple[float, float]:
    """Loss and accuracy of the integers `spec` makes of `weights` on the binned `held`."""
    fq = fake_quantize(net, weights, spec)
    readout, _ = infer(fq.config, fq.weights, held.steps, held.channels, held.offsets)
    shifted = readout - readout.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = float(-log_p[np.arange(len(held.labels)), held.labels].mean())
    return loss, float(np.mean(np.argmax(readout, axis=1) == held.labels))


def run(recipe: str, args, net, start, train, held, settings) -> pd.DataFrame:
    """Fine-tune `start` with one recipe; one row per batch (plus epoch-end rows)."""
    spec = QuantTraining(bits=args.bits, percentile=args.percentile)
    ref = fix_scale(net, spec, start)            # PTQ's scales: the quanta of both recipes
    step = quanta(net, ref)
    if recipe == "after":
        spec, settings = dataclasses.replace(ref, lr_quanta=True), dataclasses.replace(
            settings, lr=args.lr_quanta, ease_in_start_lr=args.lr_quanta)
    else:
        settings = dataclasses.replace(settings, lr=args.lr, ease_in_start_lr=args.lr)
    weights = start.copy()
    adam = Adam(settings.adam_beta1, settings.adam_beta2, settings.adam_eps)
    schedule = LearningRateSchedule.from_settings(settings)
    reg = RegConfig(nu_upper=settings.nu_upper, lambda_upper=settings.reg_lambda_upper,
                    lambda_lower=settings.reg_lambda_lower)
    lr_scale = step if spec.lr_quanta else None
    rows = []
    loss0, acc0 = deployed_metrics(net, weights, ref, held)
    rows.append({"recipe": recipe, "epoch": -1, "batch": -1, "kind": "ptq",
                 "held_loss": loss0, "held_accuracy": acc0})
    prev = fake_quantize(net, weights, spec).quantized
    n_batch = 0
    for epoch in range(settings.epochs):
        data = epoch_data(train, settings, net, epoch_rng(args.seed, epoch))
        correct = seen = 0
        spikes = np.zeros(net.n_hidden, dtype=np.int64)
        for block, batches in data.blocks(settings.batch_size, settings.block_batches):
            for batch in batches:
                fq = fake_quantize(net, weights, spec)
                q = fq.quantized
                changed = sum(int(np.count_nonzero(a != b)) for a, b in
                              zip(q.arrays().values(), prev.arrays().values(), strict=True))
                total = sum(a.size for a in q.arrays().values())
                res = loss_and_grad(fq.config, fq.weights, block.steps, block.channels,
                                    block.offsets, block.labels, batch, reg)
                before = weights.copy()
                adam.step(weights, fq.shadow_grads(res.grads), schedule.lr_for_next_batch(),
                          lr_scale)
                if spec.exponents is not None:
                    clamp_shadow(weights, net, spec)
                moved = np.concatenate([np.abs(getattr(weights, k) - getattr(before, k)).ravel()
                                        / step[k] for k in step])
                row = {"recipe": recipe, "epoch": epoch, "batch": n_batch, "kind": "batch",
                       "hidden_exponent": q.hidden_exponent,
                       "output_exponent": q.output_exponent,
                       "integers_changed": changed / total,
                       "step_quanta_median": float(np.median(moved)),
                       "step_quanta_max": float(moved.max()), "batch_loss": res.loss}
                if n_batch % args.eval_every == 0:
                    row["held_loss"], row["held_accuracy"] = deployed_metrics(
                        net, weights, spec, held)
                rows.append(row)
                correct += int(np.sum(np.argmax(res.readout, axis=1) == block.labels[batch]))
                spikes += res.hidden_spike_counts.sum(axis=0)
                seen += len(batch)
                prev, n_batch = q, n_batch + 1
        weights.w_in[:, spikes == 0] += np.float32(settings.rescue_increment)   # as the loop
        schedule.end_epoch(epoch, correct / seen)
        loss, acc = deployed_metrics(net, weights, spec, held)
        rows.append({"recipe": recipe, "epoch": epoch, "batch": n_batch, "kind": "epoch_end",
                     "online_train_accuracy": correct / seen, "held_loss": loss,
                     "held_accuracy": acc})
    return pd.DataFrame(rows)


def summary(frame: pd.DataFrame) -> None:
    """Per epoch: exponent flips, integers changed, steps in quanta, held-out accuracy
    (range over the epoch's evaluations and at its end) and online training accuracy."""
    for recipe, rows in frame.groupby("recipe", sort=False):
        ptq = rows[rows.kind == "ptq"].iloc[0]
        print(f"\n{recipe}: PTQ (start) held-out accuracy {100 * ptq.held_accuracy:.1f} %, "
              f"loss {ptq.held_loss:.3f}")
        print("epoch  exp flips  ints changed/batch  step quanta med/max  held acc min..max"
              "  end: held acc  loss   online train acc")
        ends = rows[rows.kind == "epoch_end"]
        for epoch, part in rows[rows.kind == "batch"].groupby("epoch"):
            flips = int((part[["hidden_exponent", "output_exponent"]].diff().abs() > 0)
                        .any(axis=1).sum())
            end = ends[ends.epoch == epoch].iloc[0]
            held = part.held_accuracy.dropna()
            print(f"{epoch:5d}  {flips:9d}  {100 * part.integers_changed.mean():17.2f}%"
                  f"  {part.step_quanta_median.median():8.3f} / {part.step_quanta_max.max():6.2f}"
                  f"  {100 * held.min():6.1f}..{100 * held.max():5.1f}"
                  f"  {100 * end.held_accuracy:12.1f} {end.held_loss:6.3f}"
                  f"  {100 * end.online_train_accuracy:14.1f}")
        by_train = ends.loc[ends.online_train_accuracy.idxmax()]
        best = ends.loc[ends.held_accuracy.idxmax()]
        print(f"selected by online training accuracy: epoch {int(by_train.epoch)}, held-out "
              f"{100 * by_train.held_accuracy:.1f} %; best held-out epoch {int(best.epoch)}: "
              f"{100 * best.held_accuracy:.1f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a float model.npz")
    parser.add_argument("train", help="its prepared training split (.npz)")
    parser.add_argument("--bits", type=int, default=3)
    parser.add_argument("--percentile", type=float, default=99.0)
    parser.add_argument("--seed", type=int, default=2, help="the cell's seed (epoch draws)")
    parser.add_argument("--configfile", default="config/config.yaml")
    parser.add_argument("--dataset", default="digits", help="config dataset of the settings")
    parser.add_argument("--lr", type=float, default=1e-3, help="`before`: Adam's rate")
    parser.add_argument("--lr-quanta", type=float, default=None,
                        help="`after`: Adam's rate in weight steps (default: the schema's)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="fine-tuning epochs (default: training.qat.epochs)")
    parser.add_argument("--eval-every", type=int, default=5)
    parser.add_argument("--recipes", nargs="+", default=["before", "after"])
    parser.add_argument("--csv", help="write every row here")
    args = parser.parse_args()
    with open(args.configfile) as handle:
        config = resolve_config(yaml.safe_load(handle))
    if args.lr_quanta is None:
        args.lr_quanta = float(config["training"]["qat"]["lr_quanta"])
    net, start, _, _ = load_network(args.model)
    train_all = load_npz(args.train)
    train, held_split = hold_out(train_all, float(config["training"]["qat"]["holdout"]),
                                 args.seed)
    held = bin_events(held_split, net.dt, net.n_steps)
    settings = qat_settings(config, args.dataset, net.n_hidden, args.bits)
    if args.epochs is not None:
        settings = dataclasses.replace(settings, epochs=args.epochs)
    t0 = time.perf_counter()
    frames = [run(r, args, net, start, train, held, settings) for r in args.recipes]
    frame = pd.concat(frames, ignore_index=True)
    if args.csv:
        frame.to_csv(args.csv, index=False)
    print(f"{args.model}: {args.bits} bits, {len(train)} training and {len(held_split)} "
          f"held-out samples, {time.perf_counter() - t0:.0f} s")
    summary(frame)


if __name__ == "__main__":
    main()
