"""The workflow config: one schema holds every key, its default and its check.

`config/schema.yaml` is the only place a default is written. The schema machinery
(`neurokws.config.schema`: `resolve_config`, coercion of command-line strings, key-named
errors, `default_config`, `schema_default`) is separate from the per-cell settings
(`neurokws.config.cells`: `network_config`, `train_settings`, delay training, QAT, the
deployed precisions), whose classes are filled from the config by field name. Downstream
code reads the resolved config with plain indexing and never supplies a default of its
own. Everything is importable from `neurokws.config`.
"""

from neurokws.config.cells import (
    COCHLEA_SOURCES,
    DOWNLOAD_SOURCES,
    GENERATED_SOURCES,
    QUANT_DIRS,
    SPLITS_WITH_VALID,
    DelayTraining,
    QuantTraining,
    TrainSettings,
    cell_train_settings,
    dataset_splits,
    default_network,
    delay_training,
    deployed_bits,
    fine_tunes_delay_free,
    from_sections,
    network_config,
    parse_precision,
    precision_tag,
    precision_tags,
    qat_settings,
    quant_method,
    quant_training,
    train_settings,
    training_threads,
    value_for_hidden,
)
from neurokws.config.schema import (
    DEFAULT_CONFIG_PATH,
    SCHEMA_PATH,
    check_config,
    coerce_strings,
    default_config,
    load_schema,
    resolve_config,
    schema_default,
)

__all__ = [
    "COCHLEA_SOURCES", "DEFAULT_CONFIG_PATH", "DOWNLOAD_SOURCES", "GENERATED_SOURCES",
    "QUANT_DIRS", "SCHEMA_PATH", "SPLITS_WITH_VALID", "DelayTraining", "QuantTraining",
    "TrainSettings", "cell_train_settings", "check_config", "coerce_strings",
    "dataset_splits", "default_config", "default_network", "delay_training", "deployed_bits",
    "fine_tunes_delay_free", "from_sections", "load_schema", "network_config",
    "parse_precision", "precision_tag", "precision_tags", "qat_settings", "quant_method",
    "quant_training", "resolve_config", "schema_default", "train_settings",
    "training_threads", "value_for_hidden",
]
