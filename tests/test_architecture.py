"""docs/architecture.md stays true: every import between packages is one its table allows,
no default is written twice, and no rule script reads the config itself."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "neurokws"


def allowed_imports() -> dict[str, set[str]]:
    """package -> packages it may import, from the table in docs/architecture.md."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## Packages and their imports", 1)[1]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] not in ("package", "---"):
            rows[cells[0]] = {c.strip() for c in cells[2].split(",") if c.strip()}
    return rows


def package_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py") if rel.parts[0] != "__init__.py" else "neurokws"


def imported_packages(path: Path) -> set[str]:
    """neurokws packages `path` imports (from neurokws import paper -> paper)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "neurokws":
                names = [f"neurokws.{a.name}" for a in node.names]
            elif node.module.startswith("neurokws."):
                names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("neurokws.")]
        found |= {name.split(".")[1] for name in names if name.split(".")[1] != "__version__"}
    return found


def test_every_package_imports_only_what_the_drawing_allows():
    rows = allowed_imports()
    packages = {package_of(p) for p in SRC.rglob("*.py")} - {"neurokws"}
    assert packages == set(rows), f"packages {packages} vs table {set(rows)}"
    wrong = []
    for path in SRC.rglob("*.py"):
        own = package_of(path)
        if own == "neurokws":
            continue
        for other in imported_packages(path) - {own} - rows[own]:
            wrong.append(f"{path.relative_to(ROOT)} imports {other}")
    assert not wrong, "imports the table in docs/architecture.md does not allow:\n" + \
        "\n".join(wrong)


def test_the_layers_have_no_cycle():
    rows = allowed_imports()
    done: set[str] = set()

    def visit(package: str, path: tuple[str, ...]) -> None:
        assert package not in path, f"cycle {' -> '.join((*path, package))}"
        if package not in done:
            for other in rows[package]:
                visit(other, (*path, package))
            done.add(package)

    for package in rows:
        visit(package, ())


def schema_keys() -> set[str]:
    """Every property name of config/schema.yaml."""
    keys: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            keys.update(node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load((ROOT / "config" / "schema.yaml").read_text()))
    return keys


def test_no_config_default_is_written_outside_the_schema():
    """No `.get("<schema key>", <default>)` in the library, rules or scripts: a default of
    a config key lives in config/schema.yaml only (resolve_config fills it in)."""
    keys = schema_keys()
    pattern = re.compile(r"""\.get\(\s*["']([A-Za-z_]+)["']\s*,""")
    files = [*SRC.rglob("*.py"), *(ROOT / "workflow").rglob("*.py"),
             *(ROOT / "workflow").rglob("*.smk"), ROOT / "Snakefile"]
    found = [f"{path.relative_to(ROOT)}: .get({key!r}, ...)" for path in files
             for key in pattern.findall(path.read_text()) if key in keys]
    assert not found, "defaults outside config/schema.yaml:\n" + "\n".join(found)
    assert {"n_steps", "percentile", "batch_sizes", "threads"} <= keys   # the scan is live


def test_config_mirroring_classes_have_no_defaults_of_their_own():
    import dataclasses

    from neurokws.config import DelayTraining, TrainSettings
    from neurokws.model.network import NetworkConfig
    from neurokws.profiling.profile import ProfileOptions
    from neurokws.profiling.training_cost import CostSettings
    from neurokws.train.optimizer import Adam
    from neurokws.train.schedule import LearningRateSchedule

    state = {"step_count", "m", "v", "batches_seen", "fast", "slow", "last_change_epoch",
             "epochs_done"}
    for cls in (TrainSettings, DelayTraining, NetworkConfig, ProfileOptions, CostSettings, Adam,
                LearningRateSchedule):
        defaults = [f.name for f in dataclasses.fields(cls) if f.name not in state and (
            f.default is not dataclasses.MISSING
            or f.default_factory is not dataclasses.MISSING)]
        assert not defaults, f"{cls.__name__} defaults {defaults} (the schema has them)"


def test_rule_scripts_get_their_values_through_params():
    scripts = sorted((ROOT / "workflow" / "scripts").glob("*.py"))
    assert scripts
    readers = [p.name for p in scripts if "snakemake.config" in p.read_text()]
    assert not readers, f"scripts reading snakemake.config: {readers}"
