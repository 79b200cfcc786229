"""Dataset source `audio`: find, split, check and read a folder of audio recordings.

This is the reading side only; a cochlea model turns the waveforms into spikes later.

Layouts understood by `scan`:

(a) Class folders, `<root>/<class>/<file>` (Google Speech Commands style). The class is the
    name of the subfolder; labels follow the sorted folder names unless `classes` gives the
    order (then only those folders are read, others are ignored). Subfolders starting with
    '_' (Speech Commands' `_background_noise_`) or '.' are skipped, as are files starting
    with '.' (macOS `._x.wav` resource forks) and files whose suffix is not in `extensions`
    (case-insensitive). Only files directly inside a class folder are read. The speaker
    comes from the file name through the regex `speaker_pattern` (`re.search`; the named
    group `speaker`, else group 1, else the whole match). The default takes the part before
    the first '_', as in `<speaker>_nohash_<n>.wav`; a name it does not match (or matches
    empty) gives the file stem as speaker, i.e. one speaker per file.

    Speech Commands' own split: when `<root>/testing_list.txt` and
    `<root>/validation_list.txt` both exist (and no manifest is given) they decide the
    split: the files they list (`<class>/<file>` relative to root, one a line) are test
    and valid, all others train. Entries of classes that are not read are ignored; an entry
    of a class that is read must name a file that was found. A root with only one of the
    two lists is an error (ambiguous).

(b) A CSV manifest with a header line and columns `path,label,speaker[,split]` (names are
    case-insensitive, extra columns are ignored). Paths are relative to the manifest's
    folder (or absolute); a relative `manifest` argument is relative to `root`. `label` is
    a class name or an integer class id. With `classes`, names map to their position in
    `classes` and integers index it; without, all-integer labels are used as they are (key
    = the number as a string) and otherwise the sorted distinct names are the classes. An
    empty speaker cell falls back to the file stem. `split` (train/valid/test; aliases
    training, validation, val, dev, testing) is optional: a column that is entirely empty
    counts as absent, a partly empty one is an error. Paths may not repeat.

Split when none is given: by speaker, so that all of a speaker's files are in one split.
The sorted distinct speakers are permuted by `np.random.default_rng(SeedSequence([seed,
...]))`; the first round(test_fraction * n) become test (at least one), the next
round(valid_fraction * n) valid (at least one unless valid_fraction is 0), the rest train.
The fractions are of speakers, not files. The result depends only on the set of speakers
and the seed (not on file-system order). train and test must never be empty; valid may be
(the project treats a validation split as optional) unless it was asked for.

`scan` returns items sorted by (split: train, valid, test; label; path). `validate` then
reads every file's header (soundfile.info: channels, frames, sample rate) so bad input
fails before any conversion work, and `load` reads one file as float64 mono at the target
rate (resample_poly with up/down = target/native reduced by their gcd).

Mixed sample rates: `check_consistent` reports them unless `allow_mixed_rates`. In
`validate` the default (`allow_mixed_rates=None`) allows them exactly when a target
`sample_rate` is set, since every file is resampled to it; pass False to insist on one
native rate anyway (e.g. to keep 8 kHz recordings, whose band stops at 4 kHz, from
becoming a class cue), True to accept them without resampling.

Every error is an AudioSourceError (a ValueError and a neurokws DataFormatError) that names
the file, manifest line, class or split concerned and the fix.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from neurokws.utils.errors import DataFormatError

SPLITS = ("train", "valid", "test")
DEFAULT_SPEAKER_PATTERN = r"^([^_]+)_"
DEFAULT_EXTENSIONS = (".wav", ".flac")
TEST_LIST = "testing_list.txt"
VALID_LIST = "validation_list.txt"
MANIFEST_COLUMNS = ("path", "label", "speaker")
SPLIT_ALIASES = {"train": "train", "training": "train", "valid": "valid",
                 "validation": "valid", "val": "valid", "dev": "valid", "test": "test",
                 "testing": "test"}
MAX_LISTED = 10        # problems listed in one validate() error
_SPLIT_PURPOSE = 0xA0D1  # second SeedSequence word: the speaker split's own stream
_MONO_FIX = ("convert it to mono (e.g. `sox in.wav -c 1 out.wav`) or set the option "
             "mix_to_mono (averages the channels)")
_CORRUPT_FIX = ("the file is probably truncated or corrupt (interrupted download or copy) "
                "or not audio; re-download or re-convert it (e.g. `sox in.xxx out.wav`), or "
                "delete it / remove it from the manifest")
_EMPTY_FIX = ("delete it or remove it from the manifest (re-record or re-export it if it "
              "should hold speech)")


class AudioSourceError(DataFormatError, ValueError):
    """An audio dataset (folder, manifest, list or recording) is missing or malformed."""


@dataclass(frozen=True)
class AudioItem:
    """One recording: absolute path, class id and name, speaker, split (train/valid/test)."""

    path: str
    label: int
    key: str
    speaker: str
    split: str


# --------------------------------------------------------------------------- scanning

def scan(root: str | os.PathLike, *, manifest: str | os.PathLike | None = None,
         classes: Sequence[str] | None = None,
         speaker_pattern: str = DEFAULT_SPEAKER_PATTERN, test_fraction: float = 0.1,
         valid_fraction: float = 0.1, seed: int = 0,
         extensions: Sequence[str] = DEFAULT_EXTENSIONS) -> list[AudioItem]:
    """List the recordings of an audio dataset with labels, speakers and splits.

    Layout (class folders or CSV manifest), Speech Commands lists, the speaker-disjoint
    split and the sort order are described in the module docstring. Only file names are
    looked at here; `validate` checks the audio headers. Raises AudioSourceError.
    """
    root_path = Path(root)
    if not root_path.is_dir():
        what = "is not a folder" if root_path.exists() else "not found"
        raise AudioSourceError(
            f"{root_path}: audio dataset root {what}. Download or unpack the recordings "
            "there (one subfolder per class, or a CSV manifest), or fix the root path in "
            "the config.")
    _check_fractions(test_fraction, valid_fraction)
    class_list = _check_classes(classes)
    pattern = _compile_pattern(speaker_pattern)
    if manifest is not None:
        manifest_path = Path(manifest)
        if not manifest_path.is_absolute():
            manifest_path = root_path / manifest_path
        rows, keys, has_split = _read_manifest(manifest_path, class_list)
        source = f"manifest {manifest_path}"
        valid_wanted = not has_split and valid_fraction > 0
    else:
        rows, keys = _scan_folders(root_path, class_list, pattern, _check_ext(extensions))
        source = f"audio folder {root_path}"
        lists = _read_speech_commands_lists(root_path, rows, keys)
        has_split = lists is not None
        if lists is not None:
            rows = [(p, lab, spk, lists.get(p, "train")) for p, lab, spk, _ in rows]
            source += f" (split from {TEST_LIST} and {VALID_LIST})"
        valid_wanted = has_split or valid_fraction > 0
    if not has_split:
        assignment = speaker_split([spk for _, _, spk, _ in rows],
                                   test_fraction=test_fraction,
                                   valid_fraction=valid_fraction, seed=seed, source=source)
        rows = [(p, lab, spk, assignment[spk]) for p, lab, spk, _ in rows]
    items = [AudioItem(path=p, label=lab, key=keys[lab], speaker=spk, split=split)
             for p, lab, spk, split in rows]
    items.sort(key=_sort_key)
    _check_splits(items, source, need_valid=valid_wanted)
    return items


def speaker_split(speakers: Iterable[str], *, test_fraction: float, valid_fraction: float,
                  seed: int, source: str = "dataset") -> dict[str, str]:
    """Map each distinct speaker to 'train', 'valid' or 'test' (see the module docstring)."""
    _check_fractions(test_fraction, valid_fraction)
    unique = sorted(set(speakers))
    n = len(unique)
    n_test = max(1, _round_half_up(test_fraction * n))
    n_valid = max(1, _round_half_up(valid_fraction * n)) if valid_fraction > 0 else 0
    if n - n_test - n_valid < 1:
        need = 2 + (valid_fraction > 0)
        raise AudioSourceError(
            f"{source}: only {n} speaker(s) ({', '.join(unique[:5])}{'...' if n > 5 else ''}) "
            f"for a speaker-disjoint split into train/{'valid/' if n_valid else ''}test "
            f"(test_fraction={test_fraction}, valid_fraction={valid_fraction}); this needs "
            f"at least {need} speakers and fractions that leave one for training. Check "
            "speaker_pattern (does it find the speaker in the file names?), lower the "
            "fractions, or give a manifest with a split column.")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _SPLIT_PURPOSE]))
    order = rng.permutation(n)
    out: dict[str, str] = {}
    for rank, index in enumerate(order):
        out[unique[index]] = ("test" if rank < n_test else
                              "valid" if rank < n_test + n_valid else "train")
    return out


def _scan_folders(root: Path, classes: tuple[str, ...] | None, pattern: re.Pattern[str],
                  extensions: tuple[str, ...]
                  ) -> tuple[list[tuple[str, int, str, str]], tuple[str, ...]]:
    """Rows (path, label, speaker, '') of the class-folder layout and the class names."""
    if classes is None:
        found = sorted(e.name for e in os.scandir(root) if e.is_dir()
                       and not e.name.startswith(("_", ".")))
        if not found:
            raise AudioSourceError(
                f"{root}: no class subfolders found. Arrange the recordings as "
                "<root>/<class>/<file> (one folder per class; folders starting with '_' are "
                "skipped) or describe them in a CSV manifest (columns path,label,speaker).")
        keys = tuple(found)
    else:
        keys = classes
        missing = [c for c in keys if not (root / c).is_dir()]
        if missing:
            present = sorted(e.name for e in os.scandir(root) if e.is_dir())
            raise AudioSourceError(
                f"{root / missing[0]}: class folder not found (classes {missing} are listed "
                f"in `classes` but missing under {root}; folders present: {present[:20]}). "
                "Fix the class names in the config or add the folders.")
    rows: list[tuple[str, int, str, str]] = []
    for label, key in enumerate(keys):
        folder = root / key
        files = sorted(e.name for e in os.scandir(folder) if e.is_file()
                       and not e.name.startswith(".")
                       and os.path.splitext(e.name)[1].lower() in extensions)
        if not files:
            raise AudioSourceError(
                f"{folder}: class folder '{key}' holds no audio files (looked for "
                f"{', '.join(extensions)} directly inside it). Add recordings, remove the "
                "folder (or rename it to start with '_'), leave it out of `classes`, or "
                "extend `extensions`.")
        for name in files:
            path = os.path.normpath(os.path.abspath(folder / name))
            rows.append((path, label, _speaker(pattern, name), ""))
    return rows, keys


def _read_speech_commands_lists(root: Path, rows: list[tuple[str, int, str, str]],
                                keys: tuple[str, ...]) -> dict[str, str] | None:
    """{absolute path: 'test'|'valid'} from Speech Commands' lists, None if there are none."""
    test_list, valid_list = root / TEST_LIST, root / VALID_LIST
    if not test_list.is_file() and not valid_list.is_file():
        return None
    if not (test_list.is_file() and valid_list.is_file()):
        have, lack = (test_list, valid_list) if test_list.is_file() else (valid_list, test_list)
        raise AudioSourceError(
            f"{lack}: not found, but {have.name} is present; Speech Commands' split needs "
            f"both {TEST_LIST} and {VALID_LIST}. Restore the missing list, or delete/rename "
            f"{have.name} to split by speaker instead.")
    found = {p for p, _, _, _ in rows}
    read = set(keys)
    out: dict[str, str] = {}
    for list_path, split in ((test_list, "test"), (valid_list, "valid")):
        with open(list_path, encoding="utf-8") as handle:
            for line_no, line in enumerate(handle, start=1):
                entry = line.strip().replace("\\", "/")
                if not entry or entry.startswith("#"):
                    continue
                if entry.split("/", 1)[0] not in read:
                    continue  # a class that is not used
                path = os.path.normpath(os.path.abspath(root / entry))
                if path not in found:
                    raise AudioSourceError(
                        f"{list_path}: line {line_no} names '{entry}', which is not among "
                        f"the audio files found under {root} (missing, hidden, or not one "
                        "of the extensions). Restore the file (incomplete download?) or "
                        "delete the line.")
                if out.setdefault(path, split) != split:
                    raise AudioSourceError(
                        f"{list_path}: line {line_no}: '{entry}' is listed in both "
                        f"{TEST_LIST} and {VALID_LIST}; delete it from one of them.")
    return out


def _read_manifest(manifest: Path, classes: tuple[str, ...] | None
                   ) -> tuple[list[tuple[str, int, str, str]], tuple[str, ...], bool]:
    """Rows (path, label, speaker, split or ''), class names, and whether splits are given."""
    if not manifest.is_file():
        raise AudioSourceError(
            f"{manifest}: manifest not found. Fix the manifest path in the config (a relative "
            "path is relative to the dataset root) or leave it out to use class folders.")
    try:
        with open(manifest, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            lines = [(reader.line_num, row) for row in reader]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise AudioSourceError(f"{manifest}: cannot be read as a UTF-8 CSV file ({exc}); "
                               "save it as CSV (UTF-8) with a header line.") from exc
    columns = [c.strip().lower() for c in header or []]
    missing = [c for c in MANIFEST_COLUMNS if c not in columns]
    if missing:
        raise AudioSourceError(
            f"{manifest}: manifest lacks column(s) {missing} (header has {columns}); the first "
            "line must name the columns path,label,speaker and optionally split.")
    index = {c: columns.index(c) for c in (*MANIFEST_COLUMNS, "split") if c in columns}
    folder = manifest.parent
    records: list[tuple[str, str, str, str, str]] = []   # where, path, label, speaker, split
    seen: dict[str, int] = {}
    for line_no, row in lines:
        if not any(cell.strip() for cell in row):
            continue
        cells = {c: row[i].strip() if i < len(row) else "" for c, i in index.items()}
        where = f"{manifest}: row {len(records) + 1} (line {line_no})"
        if not cells["path"]:
            raise AudioSourceError(f"{where} has an empty path; fill it in or delete the row.")
        if not cells["label"]:
            raise AudioSourceError(f"{where} ({cells['path']}) has an empty label; give the "
                                   "class name or id, or delete the row.")
        path = os.path.normpath(os.path.abspath(folder / cells["path"]))
        if not os.path.isfile(path):
            raise AudioSourceError(
                f"{where} names the file {cells['path']} ({path}), which does not exist. "
                "Restore the file or fix/delete the row (paths are relative to the "
                "manifest's folder).")
        if path in seen:
            raise AudioSourceError(
                f"{where} repeats the file {cells['path']} of line {seen[path]}; every file "
                "may appear once, delete one of the rows.")
        seen[path] = line_no
        speaker = cells["speaker"] or Path(path).stem
        records.append((where, path, cells["label"], speaker, cells.get("split", "")))
    if not records:
        raise AudioSourceError(f"{manifest}: manifest has no rows; add one line per "
                               "recording (path,label,speaker[,split]).")
    has_split = any(r[4] for r in records)
    splits: list[str] = []
    for where, path, _, _, value in records:
        if not has_split:
            splits.append("")
            continue
        split = SPLIT_ALIASES.get(value.lower())
        if split is None:
            raise AudioSourceError(
                f"{where} ({os.path.basename(path)}) has split "
                f"'{value}'; use train, valid or test in every row, or leave the split "
                "column empty in all rows to split by speaker.")
        splits.append(split)
    labels, keys = _map_labels([(r[0], r[1], r[2]) for r in records], classes)
    rows = [(r[1], lab, r[3], s) for r, lab, s in zip(records, labels, splits, strict=True)]
    return rows, keys, has_split


def _map_labels(raw: list[tuple[str, str, str]], classes: tuple[str, ...] | None
                ) -> tuple[list[int], tuple[str, ...]]:
    """Class ids and names for the manifest's label cells ((where, path, label) triples)."""
    def is_int(value: str) -> bool:
        return re.fullmatch(r"[+-]?\d+", value) is not None

    if classes is None:
        if all(is_int(v) for _, _, v in raw):
            ids = [int(v) for _, _, v in raw]
            bad = [(where, p, v) for (where, p, _), v in zip(raw, ids, strict=True) if v < 0]
            if bad:
                where, p, v = bad[0]
                raise AudioSourceError(
                    f"{where} ({os.path.basename(p)}) has the unknown label "
                    f"{v}; class ids must be >= 0. Fix the row or use class names.")
            return ids, tuple(str(i) for i in range(max(ids) + 1))
        keys = tuple(sorted({v for _, _, v in raw}))
        lookup = {k: i for i, k in enumerate(keys)}
        return [lookup[v] for _, _, v in raw], keys
    lookup = {k: i for i, k in enumerate(classes)}
    labels: list[int] = []
    for where, p, value in raw:
        if value in lookup:
            labels.append(lookup[value])
        elif is_int(value) and 0 <= int(value) < len(classes):
            labels.append(int(value))
        else:
            raise AudioSourceError(
                f"{where} ({os.path.basename(p)}) has the unknown label "
                f"'{value}'; known classes are {list(classes)} (or ids 0..{len(classes) - 1})."
                " Add the class to `classes` in the config or fix/delete the row.")
    return labels, classes


def _check_splits(items: Sequence[AudioItem], source: str, need_valid: bool) -> None:
    """train and test must hold items; valid too when it was asked for."""
    counts = Counter(item.split for item in items)
    for split in SPLITS:
        if counts[split] == 0 and (split != "valid" or need_valid):
            raise AudioSourceError(
                f"{source}: split '{split}' has no items ({dict(counts)} per split). Give it "
                "some recordings (manifest split column / Speech Commands lists), or adjust "
                "test_fraction/valid_fraction (valid_fraction 0 drops the valid split).")


# --------------------------------------------------------------------------- reading

def load(path: str | os.PathLike, sample_rate: int, *, mix_to_mono: bool = False
         ) -> np.ndarray:
    """Read one recording as a float64 mono waveform at `sample_rate` Hz.

    Integer PCM is scaled to [-1, 1) by soundfile. A file at another rate is resampled
    with scipy.signal.resample_poly(x, up, down), up/down = sample_rate/native reduced by
    their gcd (exact rational factor; length ceil(n * up / down)). Multichannel files are
    an error unless `mix_to_mono` (mean of the channels). Empty, all-zero, non-finite,
    missing or unreadable files raise AudioSourceError naming the file.
    """
    target = _check_rate(sample_rate)
    path = Path(path)
    info = _info(path)
    problem = _header_problem(path, info, mix_to_mono)
    if problem:
        raise AudioSourceError(problem)
    try:
        data, native = sf.read(path, dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
        raise AudioSourceError(f"{path}: could not decode the audio ({exc}); "
                               f"{_CORRUPT_FIX}.") from exc
    if data.shape[0] == 0:
        raise AudioSourceError(f"{path}: holds no samples (0 frames); {_EMPTY_FIX}.")
    if not np.all(np.isfinite(data)):
        raise AudioSourceError(f"{path}: holds NaN or infinite samples; re-export it or "
                               "delete it / remove it from the manifest.")
    if not np.any(data):
        raise AudioSourceError(f"{path}: is all zeros (digital silence); {_EMPTY_FIX}.")
    wave = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.any(wave):
        raise AudioSourceError(f"{path}: its channels cancel out when mixed to mono (phase-"
                               "inverted stereo?); convert it with one channel kept (e.g. "
                               "`sox in.wav out.wav remix 1`) or delete it.")
    if native != target:
        g = math.gcd(int(native), target)
        wave = resample_poly(wave, target // g, int(native) // g)
    return np.ascontiguousarray(wave, dtype=np.float64)


# --------------------------------------------------------------------------- checking

def check_consistent(items: Sequence[AudioItem], *, allow_mixed_rates: bool = False
                     ) -> dict[int, int]:
    """Count the native sample rates (from the headers); error on several unless allowed."""
    infos = [(Path(item.path), _info(Path(item.path))) for item in items]
    return _rate_check(infos, allow_mixed_rates)


def validate(items: Sequence[AudioItem], *, sample_rate: int | None = None,
             allow_mixed_rates: bool | None = None, mix_to_mono: bool = False,
             check_content: bool = False) -> dict[str, Any]:
    """Check every file's header (then optionally its samples) and summarise the dataset.

    Headers (soundfile.info: exists, readable, frames > 0, one channel unless
    `mix_to_mono`) of all files are checked and all problems are reported together (the
    first MAX_LISTED in the message). Mixed native rates: see the module docstring
    (`allow_mixed_rates=None` allows them exactly when `sample_rate` is set).
    `check_content` also decodes every file (load's checks: all-zero, NaN, decoding
    errors), which costs a full read of the dataset. Labels must map to one key each and
    train and test must hold items.

    Returns {"n_items", "n_per_split", "n_per_class", "n_per_split_class", "classes",
    "n_speakers", "n_speakers_per_split", "speakers_in_several_splits", "sample_rates"
    (native rate -> files), "channels" (count -> files), "sample_rate" (output rate, None
    if mixed without target), "duration_s", "duration_s_per_split", "min_duration_s",
    "max_duration_s"}.
    """
    target = None if sample_rate is None else _check_rate(sample_rate)
    if not items:
        raise AudioSourceError("audio dataset: no items to validate; check the dataset root "
                               "and layout (scan found nothing).")
    keys: dict[int, str] = {}
    for item in items:
        if item.split not in SPLITS:
            raise AudioSourceError(f"{item.path}: split '{item.split}' is not one of "
                                   f"{list(SPLITS)}; fix the manifest or the item.")
        if keys.setdefault(item.label, item.key) != item.key:
            raise AudioSourceError(f"{item.path}: label {item.label} is named '{item.key}' "
                                   f"here but '{keys[item.label]}' elsewhere; give every "
                                   "class one id.")
    _check_splits(items, "audio dataset", need_valid=False)
    problems: list[str] = []
    infos: list[tuple[Path, Any]] = []
    for item in items:
        path = Path(item.path)
        try:
            info = _info(path)
        except AudioSourceError as exc:
            problems.append(str(exc))
            continue
        problem = _header_problem(path, info, mix_to_mono)
        if problem:
            problems.append(problem)
            continue
        infos.append((path, info))
        if check_content:
            try:
                load(path, target or int(info.samplerate), mix_to_mono=mix_to_mono)
            except AudioSourceError as exc:
                problems.append(str(exc))
    if problems:
        listed = "\n  ".join(problems[:MAX_LISTED])
        more = f"\n  ... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED \
            else ""
        raise AudioSourceError(f"audio dataset: {len(problems)} of {len(items)} files failed "
                               f"the checks:\n  {listed}{more}")
    allowed = (target is not None) if allow_mixed_rates is None else allow_mixed_rates
    rates = _rate_check(infos, allowed)

    durations = np.array([info.frames / info.samplerate for _, info in infos])
    split_of = [item.split for item in items]
    speakers_by_split: dict[str, set[str]] = defaultdict(set)
    for item in items:
        speakers_by_split[item.split].add(item.speaker)
    splits_of_speaker = Counter(s for group in speakers_by_split.values() for s in group)
    per_split_class: dict[str, dict[str, int]] = {}
    for split in SPLITS:
        counts = Counter(item.label for item in items if item.split == split)
        if counts:
            per_split_class[split] = {keys[lab]: counts[lab] for lab in sorted(counts)}
    class_counts = Counter(item.label for item in items)
    return {
        "n_items": len(items),
        "n_per_split": {s: n for s in SPLITS if (n := split_of.count(s))},
        "n_per_class": {keys[lab]: class_counts[lab] for lab in sorted(class_counts)},
        "n_per_split_class": per_split_class,
        "classes": [keys[lab] for lab in sorted(keys)],
        "n_speakers": len(splits_of_speaker),
        "n_speakers_per_split": {s: len(speakers_by_split[s]) for s in SPLITS
                                 if s in speakers_by_split},
        "speakers_in_several_splits": sum(1 for n in splits_of_speaker.values() if n > 1),
        "sample_rates": dict(sorted(rates.items())),
        "channels": dict(sorted(Counter(int(i.channels) for _, i in infos).items())),
        "sample_rate": target if target is not None else (next(iter(rates))
                                                          if len(rates) == 1 else None),
        "duration_s": float(durations.sum()),
        "duration_s_per_split": {s: float(durations[np.array(split_of) == s].sum())
                                 for s in SPLITS if s in split_of},
        "min_duration_s": float(durations.min()),
        "max_duration_s": float(durations.max()),
    }


def _rate_check(infos: Sequence[tuple[Path, Any]], allow_mixed_rates: bool) -> dict[int, int]:
    """{native rate: files}; AudioSourceError naming an example file per rate if mixed."""
    counts: Counter[int] = Counter()
    example: dict[int, Path] = {}
    for path, info in infos:
        rate = int(info.samplerate)
        counts[rate] += 1
        example.setdefault(rate, path)
    if len(counts) > 1 and not allow_mixed_rates:
        listing = "; ".join(f"{rate} Hz: {n} files, e.g. {example[rate]}"
                            for rate, n in sorted(counts.items()))
        raise AudioSourceError(
            f"audio dataset: mixed sample rates ({listing}). Set a target sample_rate in the "
            "config (every file is then resampled), convert the odd files (e.g. `sox in.wav "
            "-r 16000 out.wav`), or set allow_mixed_rates.")
    return dict(counts)


def _info(path: Path) -> Any:
    """soundfile.info, with AudioSourceError for a missing or unreadable file."""
    if not path.is_file():
        raise AudioSourceError(f"{path}: audio file not found. Restore it, or scan the "
                               "dataset again (the file list is out of date).")
    try:
        return sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
        raise AudioSourceError(f"{path}: cannot be read as audio ({exc}); "
                               f"{_CORRUPT_FIX}.") from exc


def _header_problem(path: Path, info: Any, mix_to_mono: bool) -> str | None:
    """Message for an impossible header (no frames, several channels, bad rate) or None."""
    if info.frames <= 0:
        return f"{path}: holds no samples (0 frames); {_EMPTY_FIX}."
    if info.samplerate <= 0:
        return f"{path}: header gives sample rate {info.samplerate}; {_CORRUPT_FIX}."
    if info.channels > 1 and not mix_to_mono:
        return f"{path}: has {info.channels} channels, expected mono; {_MONO_FIX}."
    if info.channels < 1:
        return f"{path}: header gives {info.channels} channels; {_CORRUPT_FIX}."
    return None


# --------------------------------------------------------------------------- helpers

def _sort_key(item: AudioItem) -> tuple[int, int, str]:
    return SPLITS.index(item.split), item.label, item.path


def _speaker(pattern: re.Pattern[str], name: str) -> str:
    """Speaker from a file name (see the module docstring); the stem when nothing matches."""
    match = pattern.search(name)
    if match is not None:
        if "speaker" in pattern.groupindex:
            value = match.group("speaker")
        elif pattern.groups:
            value = match.group(1)
        else:
            value = match.group(0)
        if value:
            return value
    return Path(name).stem


def _compile_pattern(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise AudioSourceError(f"speaker_pattern {pattern!r} is not a valid regular expression "
                               f"({exc}); fix it in the config (default "
                               f"{DEFAULT_SPEAKER_PATTERN!r}).") from exc


def _check_fractions(test_fraction: float, valid_fraction: float) -> None:
    if not 0 < test_fraction < 1 or not 0 <= valid_fraction < 1 or \
            test_fraction + valid_fraction >= 1:
        raise AudioSourceError(
            f"test_fraction={test_fraction}, valid_fraction={valid_fraction}: need "
            "0 < test_fraction < 1, 0 <= valid_fraction < 1 and a sum below 1 (the rest is "
            "train); fix them in the config.")


def _check_classes(classes: Sequence[str] | None) -> tuple[str, ...] | None:
    if classes is None:
        return None
    if isinstance(classes, str):
        raise AudioSourceError(f"classes={classes!r}: give a list of class names, not one "
                               "string.")
    out = tuple(str(c) for c in classes)
    dupes = sorted(c for c, n in Counter(out).items() if n > 1)
    if not out or dupes or any(not c for c in out):
        raise AudioSourceError(f"classes={list(out)}: need a non-empty list of distinct, "
                               f"non-empty class names (repeated: {dupes}); fix the config.")
    return out


def _check_ext(extensions: Sequence[str]) -> tuple[str, ...]:
    if isinstance(extensions, str):
        extensions = (extensions,)
    out = tuple(e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions)
    if not out:
        raise AudioSourceError("extensions is empty; list the audio suffixes to read, e.g. "
                               "['.wav', '.flac'].")
    return out


def _check_rate(sample_rate: Any) -> int:
    """A positive integer rate in Hz (an integral float is accepted)."""
    ok = (not isinstance(sample_rate, bool) and isinstance(sample_rate, (int, np.integer, float))
          and float(sample_rate).is_integer() and sample_rate > 0)
    if not ok:
        raise AudioSourceError(f"sample_rate={sample_rate!r}: must be a positive integer "
                               "number of Hz (e.g. 16000); fix it in the config.")
    return int(sample_rate)


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)
