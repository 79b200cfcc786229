"""The workflow's stages, one function per rule: each takes its rule's input and output
paths and its params, does what the rule does and returns its record. A rule script is
`start_rule` and one call (workflow/scripts/); the stage-cost measurement
(`neurokws.stages.cost`) and the numba warm-up (`neurokws.warm`) call the same functions.

Modules follow the rule files: `data` (prepare, cochlea_chunk, cochlea_merge), `train`
(train, train_segment, train_qat, evaluate_float), `deploy` (quantize, export_netx),
`fixedpoint` (eval_fixed, eval_lava_chunk, merge_lava), `profiling` (profile). Rules
that are one library call already (generating data, aggregating tables, figures) call it
directly."""
