"""Wall time of a spoken-digit corpus, synthesised and converted by the workflow itself.

Runs the real Snakemake workflow (plan_corpus -> cochlea_chunk x chunks -> cochlea_merge)
on a config that asks for `--speakers` speakers x 20 digits x `--per-class` utterances
(default 50 x 20 x 3 = 3000, goal: <= 3 min on 2 cores), in a fresh folder, with
`--cores` cores and as many chunks, then runs it again to show that a rerun skips the
corpus. Prints both wall times, seconds per utterance and per second of audio. The numba
kernels come from their cache (run `make run` or `python -m neurokws.warm` once first; a
fresh clone adds about 6 s of compiling). Usage:

    .venv/bin/python benchmarks/bench_corpus.py [--speakers 50] [--per-class 3] [--cores 2]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def run(folder: Path, cores: int) -> float:
    """Seconds of one Snakemake run that makes both splits of the corpus."""
    start = time.perf_counter()
    with open(folder / "snakemake.log", "a") as log:
        done = subprocess.run([str(Path(sys.executable).parent / "snakemake"),
                               "results/corpus/data/train.h5", "results/corpus/data/test.h5",
                               "--cores", str(cores), "--snakefile", str(ROOT / "Snakefile"),
                               "--directory", str(folder),
                               "--configfile", str(folder / "corpus.yaml")],
                              cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode:
        sys.exit("snakemake failed:\n" + (folder / "snakemake.log").read_text()[-3000:])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speakers", type=int, default=50)
    parser.add_argument("--per-class", type=int, default=3)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    n_test = max(1, args.speakers // 5)
    config = {"datasets": {"corpus": {
        "source": "spoken_digits",
        "spoken_digits": {"n_speakers_train": args.speakers - n_test,
                          "n_speakers_test": n_test, "per_class_per_speaker": args.per_class},
        "cochlea": {"chunks": args.cores}}}, "hidden_sizes": [128], "seeds": [1]}
    with tempfile.TemporaryDirectory(prefix="bench-corpus-") as tmp:
        folder = Path(tmp)
        (folder / "corpus.yaml").write_text(yaml.safe_dump(config))
        first = run(folder, args.cores)
        again = run(folder, args.cores)
        plan = json.loads((folder / "results/corpus/cochlea/plan.json").read_text())
        audio_s = 0.0
        for log in sorted((folder / "results/corpus/logs").glob("cochlea_chunk*.log")):
            found = re.search(r"([\d.]+) s of audio", log.read_text())
            audio_s += float(found.group(1)) if found else 0.0
    n = len(plan["clips"])
    print(f"{n} utterances ({audio_s:.0f} s of audio), {args.cores} cores: "
          f"{first:.1f} s ({first / n * 1e3:.1f} ms per utterance, "
          f"{first / max(audio_s, 1e-9):.3f} s per s of audio); rerun {again:.1f} s "
          f"(goal for 3000: <= 180 s)")


if __name__ == "__main__":
    main()
