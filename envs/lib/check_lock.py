"""Check that a hashed lock file still matches the requirements it was made from.

    python3.11 envs/lib/check_lock.py check LOCK INPUT   # before installing from LOCK
    python3.11 envs/lib/check_lock.py header INPUT [EXTRA ...]   # used by `make lock`

INPUT is pyproject.toml (its [project] dependencies plus the extras named in the lock) or a
requirements file (one requirement a line, `#` comments). `make lock`
(envs/lib/update_locks.sh) starts every lock with the lines `header` prints: the extras and a
sha256 of the input's requirement lists, so that editing a comment or the project's
description does not invalidate a lock, but editing a requirement does. `check` exits 1, and
says which file to regenerate with which command, when the recorded sha256 differs or when
a requirement of INPUT is not pinned in LOCK (at its exact version, for `==` requirements).
It reads and writes nothing else, so on a mismatch nothing is installed or overwritten.

Standard library only: it runs before any venv exists, with the project's python3.11.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import tomllib

FIX = "make lock"
DIGEST_LINE = re.compile(r"^# input-sha256: ([0-9a-f]{64})$", re.M)
EXTRAS_LINE = re.compile(r"^# extras: (.*)$", re.M)
# A pinned line of pip-compile's output: `name==version \` (extras stripped, PEP 508 names).
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.M)
NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(==\s*[^\s,;]+)?\s*(;)?")


def normalize(name: str) -> str:
    """PEP 503 normalised project name (https://peps.python.org/pep-0503/#normalized-names)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(path: Path, extras: list[str]) -> dict[str, list[str]]:
    """The input's requirement lists, whitespace-normalised and sorted: {"": base, extra: ...}."""
    if path.name == "pyproject.toml":
        project = tomllib.loads(path.read_text())["project"]
        optional = project.get("optional-dependencies", {})
        missing = [e for e in extras if e not in optional]
        if missing:
            raise LookupError(f"{path} has no extra {', '.join(missing)}")
        lists = {"": project.get("dependencies", []), **{e: optional[e] for e in extras}}
    else:
        lines = (line.split(" #", 1)[0].strip() for line in path.read_text().splitlines())
        lists = {"": [line for line in lines if line and not line.startswith("#")]}
    return {key: sorted(" ".join(r.split()) for r in reqs) for key, reqs in lists.items()}


def digest(lists: dict[str, list[str]]) -> str:
    return hashlib.sha256(json.dumps(lists, sort_keys=True).encode()).hexdigest()


def header(path: Path, extras: list[str]) -> str:
    """The first lines of a lock of `path` (with these extras of a pyproject.toml)."""
    lines = [f"# Hashed lock of {path}, made by `{FIX}`",
             "# (envs/lib/update_locks.sh); the installers refuse it (envs/lib/check_lock.py)",
             "# once the requirements it was made from change."]
    if extras:
        lines.append(f"# extras: {' '.join(extras)}")
    lines.append(f"# input-sha256: {digest(requirements(path, extras))}")
    return "\n".join(lines) + "\n"


def problems(lock: Path, source: Path) -> list[str]:
    """What is wrong with `lock` as a lock of `source` (empty when it matches)."""
    text = lock.read_text()
    recorded = DIGEST_LINE.search(text)
    if recorded is None:
        return ["it has no '# input-sha256:' line (it was not written by `make lock`)"]
    extras_line = EXTRAS_LINE.search(text)
    extras = extras_line.group(1).split() if extras_line else []
    try:
        lists = requirements(source, extras)
    except LookupError as err:
        return [str(err)]
    found = []
    if digest(lists) != recorded.group(1):
        found.append(f"the requirements in {source} changed since it was made")
    pins = {normalize(name): version for name, version in PIN.findall(text)}
    for requirement in sorted({r for reqs in lists.values() for r in reqs}):
        name, exact, marker = NAME.match(requirement).groups()
        if marker:          # pip-compile pins a requirement with a marker only where it applies
            continue
        pinned = pins.get(normalize(name))
        if pinned is None:
            found.append(f"{requirement} is not pinned")
        elif exact and pinned.split("+")[0] != exact[2:].strip():   # 2.13.0+cpu is ==2.13.0
            found.append(f"{requirement} is pinned at {pinned}")
    return found


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "header":
        sys.stdout.write(header(Path(argv[1]), argv[2:]))
        return 0
    if len(argv) != 3 or argv[0] != "check":
        sys.stderr.write(__doc__)
        return 2
    lock, source = Path(argv[1]), Path(argv[2])
    if not lock.is_file():
        found = ["it does not exist"]
    else:
        found = problems(lock, source)
    if not found:
        return 0
    sys.stderr.write(f"ERROR: the lock file {lock} does not match {source}: "
                     f"{'; '.join(found)}.\nFix: run `{FIX}` (regenerates {lock} from {source}), "
                     "review and commit the new lock, then retry. Nothing was installed.\n")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
