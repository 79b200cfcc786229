"""Side environments: the venvs of Lava, Norse (NIR), Spyx and GeNN (neurokws.utils.sidecar).

One rule per side env, with the paths and recipe files of `ENVS` (their one home). They
download packages, so they run on the submit host; GeNN's also needs GENN_SRC and
ML_GENN_SRC (its recipe says so when they are missing).
"""

for _env in ENVS.values():

    rule:
        name:
            f"side_env_{_env.name}"
        input:
            script=_env.setup_script,
            recipe=list(_env.recipe[1:]),
        output:
            stamp=str(_env.stamp),
        params:
            venv=lambda wildcards, output: os.path.dirname(output.stamp),
        log:
            f"results/logs/side_env_{_env.name}.log",
        localrule: True
        conda:
            "../../envs/neurokws.yaml"
        shell:
            "bash {input.script} {params.venv} > {log} 2>&1"
