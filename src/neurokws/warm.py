"""Compile the workflow's numba kernels once, ahead of the workflow (`make run` does this).

The kernels are compiled with ``cache=True``: the first process that calls one compiles it
and writes the machine code next to its module (``__pycache__``); every later process loads
it. In a fresh clone, each workflow job would otherwise compile what it needs on first use
(about 17 s for training, 6 s for the cochlea, ...), several jobs the same kernels at once.
This module calls every public entry point the workflow uses, on a tiny generated split and
a 0.1 s clip, with the argument types the workflow uses, so the workflow finds them
compiled. It computes nothing that is kept: results go to a temporary folder that is removed.

The work runs as two processes side by side (the delay-free path, and the path with learned
delays on data of its own), so that both cores of a small machine compile. With
``--record FILE`` (the Makefile's stamp) it writes the kernels the two processes compiled or
loaded (``<module>.<function>``, numba's cache index names), which tests/test_warm.py checks.

Usage: ``python -m neurokws.warm [--record FILE]`` (prints the seconds it took).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from neurokws.config import default_config, delay_training, train_settings
from neurokws.data.cochlea import Cochlea
from neurokws.data.sources.convert import clip_rng
from neurokws.data.sources.synthetic import write_synthetic_dataset
from neurokws.fixedpoint.inputs import INPUT_MODES
from neurokws.stages.data import prepare
from neurokws.stages.deploy import export_netx, quantize
from neurokws.stages.fixedpoint import eval_fixed
from neurokws.stages.train import evaluate_float, train_model
from neurokws.utils.provenance import fixed
from neurokws.utils.records import CellKey

WARM = fixed({"rule": "warm"})   # the provenance of what it writes (and then removes)
N_HIDDEN = 8


PARTS = ("plain", "delays")


def warm(folder: Path, part: str) -> None:
    """Run one part's compiled paths once on tiny inputs inside `folder`, through the
    workflow's own stage functions (neurokws.stages) on the schema's settings: "plain" the
    cochlea, the data and a delay-free cell from training to the emulator, "delays" the data
    and a cell with learned delays."""
    if part == "plain":
        # The cochlea (plan -> chunk jobs): a 0.1 s noise clip at the default 16 kHz.
        noise = np.random.default_rng(0).standard_normal(1600)
        Cochlea(pad_s=0.25)(noise, 16000, clip_rng(0, 0))
    # Data: the Heidelberg HDF5 reader and the compact event store (prepare).
    write_synthetic_dataset(folder / "train.h5", folder / "test.h5", n_classes=2, n_train=8,
                            n_test=4, n_speakers_train=2, n_speakers_test=1, n_channels=700,
                            duration_ms=100.0)
    for split in ("train", "test"):
        prepare(folder / f"{split}.h5", folder / f"{split}.npz",
                folder / f"{split}.summary.json", allow_empty=False, provenance=WARM)
    # Training (binning, both augmentations, the engine's forward and backward passes), then
    # float evaluation, quantization, NetX and the bit-exact emulator in every input mode;
    # in the part "delays" with learned delays (the delay kernels, their training and the
    # emulator's delay rings), from the paper's initialisation: that process has no
    # delay-free model to fine-tune, and fine-tuning one runs the same kernels on the same
    # types. Short trials and delays: the types, not the sizes, decide what compiles.
    delays = part == "delays"
    config = default_config(
        datasets={"warm": {"source": "synthetic", "epochs": 1,
                           "augmentations": ["shift", "blend"]}},
        model={"n_steps": 100, "delays": {"max_in": 4, "max_rec": 4}},
        training={"batch_size": 4, "progress_bar": False, "delays": {"start": "scratch"}})
    settings = train_settings(config, "warm", N_HIDDEN).to_dict()
    model_section = config["model"] if delays else {
        k: v for k, v in config["model"].items() if k != "delays"}
    cell = CellKey("warm", N_HIDDEN, delays, 0)
    out = folder / part
    spec = delay_training(config, delays)
    train_model(folder / "train.npz", out, hidden=N_HIDDEN, seed=0, model_section=model_section,
                settings=settings, delays=None if spec is None else spec.to_dict(),
                backend=config["training"]["backend"], provenance=WARM, init=None,
                model=out / "model.npz", log_csv=out / "train_log.csv")
    evaluate_float(out / "model.npz", folder / "test.npz", out / "eval_float.json",
                   out / "predictions.csv", out / "confusion.csv", cell=cell, provenance=WARM)
    quantize(out / "model.npz", out / "quantized.npz", out / "quantization.json",
             hidden=N_HIDDEN, precision=str(config["deploy"]["bits"][0]),
             percentile=config["deploy"]["percentile"], model_section=model_section,
             delays=delays, provenance=WARM)
    export_netx(out / "quantized.npz", out / "model.net")
    eval_fixed(out / "model.net", folder / "test.npz", out / "eval_fixed.json",
               out / "predictions_fixed.csv", cell=cell, method="ptq",
               modes=list(INPUT_MODES), provenance=WARM)


def compiled_kernels() -> list[str]:
    """`<module>.<function>` of every numba kernel of neurokws that this process compiled or
    loaded from the cache (a dispatcher with signatures): the names of numba's cache index
    files (`<module>.<function>-<line>.py311.nbi`)."""
    from numba.core.registry import CPUDispatcher

    names = set()
    for name, module in list(sys.modules.items()):
        if not name.startswith("neurokws."):
            continue
        for value in vars(module).values():
            if isinstance(value, CPUDispatcher) and value.signatures and \
                    value.py_func.__module__ == name:
                names.add(f"{name.rsplit('.', 1)[-1]}.{value.py_func.__name__}")
    return sorted(names)


def run_part(part: str) -> list[str]:
    """One part in a temporary folder (removed); the kernels it compiled or loaded."""
    with tempfile.TemporaryDirectory(prefix=f"neurokws-warm-{part}-") as tmp:
        warm(Path(tmp), part)
    return compiled_kernels()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m neurokws.warm", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--record", type=Path, help="write the compiled kernels there (JSON)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    with ProcessPoolExecutor(len(PARTS)) as pool:
        kernels = sorted(set().union(*pool.map(run_part, PARTS)))
    seconds = time.perf_counter() - start
    if args.record is not None:
        tmp = args.record.with_name(args.record.name + ".tmp")
        tmp.write_text(json.dumps({"kernels": kernels, "seconds": round(seconds, 1)}) + "\n")
        tmp.replace(args.record)
    print(f"neurokws: numba kernels compiled and cached in {seconds:.0f} s "
          f"({len(kernels)} kernels)")


if __name__ == "__main__":
    main()
