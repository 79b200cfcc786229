"""Our NIR export in Norse 1.1.0's NIR importer vs our float engine, on default-like data.

    .venv/bin/python benchmarks/nir_crosscheck.py                       # demo model, N = 128
    .venv/bin/python benchmarks/nir_crosscheck.py --model results/synth/h128/seed1/model.npz

Data like the default config's test split: synthetic, 10 classes, seed 7, speakers 8-9,
~8,500 events per 1 s sample, binned to T = 1000 steps of 1 ms. Without --model, a stand-in
for a trained model (``nir_crosscheck.demo_model``: ~14 hidden spikes per neuron per sample,
ridge readout fitted on --train-samples training samples). Norse runs in .venv-nir
(``make nir-env``). Prints, per Norse mode (``neurokws.deploy.nir_norse``)
and engine dtype, the prediction agreement, readout differences and hidden spike-count
agreement; asserts nothing. --json writes the numbers.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from neurokws.data.formats.binning import bin_events  # noqa: E402
from neurokws.data.sources.synthetic import generate_split  # noqa: E402
from neurokws.deploy.nir_crosscheck import crosscheck, demo_model, summary_json  # noqa: E402
from neurokws.model.network import load_model  # noqa: E402

HEADER = (f"{'mode':9s}{'engine':8s}{'pred agree':>11s}{'max|dR|':>10s}{'rel':>9s}"
          f"{'eq-count max|dR|':>17s}{'counts eq':>10s}{'samples eq':>11s}"
          f"{'spikes ours/norse':>19s}{'acc ours/norse':>16s}")


def main() -> int:
    """Parse arguments, run the cross-check, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model .npz (default: a demo model)")
    parser.add_argument("--samples", type=int, default=400, help="test samples (default 400)")
    parser.add_argument("--train-samples", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=128, help="demo model size (default 128)")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7, help="data seed (default config: 7)")
    parser.add_argument("--json", type=Path, help="write the numbers here")
    args = parser.parse_args()

    start = time.perf_counter()
    if args.model:
        config, weights, _ = load_model(args.model)
        origin = str(args.model)
    else:
        train = bin_events(generate_split(args.train_samples, args.classes, seed=args.seed,
                                          speakers=range(8)), 1.0, 1000)
        config, weights = demo_model(train, args.hidden, args.classes)
        origin = f"demo_model (N={args.hidden}, fitted on {args.train_samples} samples)"
    test = bin_events(generate_split(args.samples, config.n_out, seed=args.seed, split="test",
                                     speakers=range(8, 10)), config.dt, config.n_steps)
    events = test.n_spikes / len(test)
    prepared = time.perf_counter()
    results = crosscheck(config, weights, test)
    done = time.perf_counter()

    print(f"model: {origin}; {len(test)} test samples, {events:.0f} binned spikes/sample, "
          f"T={config.n_steps}, N={config.n_hidden}, C={config.n_out}")
    print(HEADER)
    for mode, by_dtype in results.items():
        for dtype, a in by_dtype.items():
            print(f"{mode:9s}{dtype:8s}{a.prediction_agreement:11.4f}"
                  f"{a.max_abs_readout_diff:10.3g}"
                  f"{a.max_abs_readout_diff / a.max_readout_ours:9.2g}"
                  f"{a.max_abs_readout_diff_equal:17.3g}{a.count_agreement:10.4f}"
                  f"{a.samples_equal_counts:11.4f}"
                  f"{a.mean_count_ours:10.2f}/{a.mean_count_norse:<8.2f}"
                  f"{a.accuracy_ours:9.3f}/{a.accuracy_norse:<6.3f}")
    print(f"time: {prepared - start:.1f} s model+data, {done - prepared:.1f} s cross-check "
          "(Norse: 3 modes; engine: 2 dtypes)")
    if args.json:
        args.json.write_text(summary_json(results) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
