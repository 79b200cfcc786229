"""Side environments: the venvs of Lava, Norse (NIR), Spyx and GeNN (neurokws.utils.sidecar)."""


rule side_env:
    """Build a side venv once (envs/<env>/setup_<env>_env.sh; neurokws.utils.sidecar)."""
    input:
        script=lambda wildcards: ENVS[wildcards.env].setup_script,
        recipe=lambda wildcards: ENVS[wildcards.env].recipe[1:],
    output:
        stamp=str(Path(workflow.basedir) / ".venv-{env}" / ".neurokws-{env}-stamp"),
    params:
        venv=lambda wildcards: str(ENVS[wildcards.env].path),
    log:
        "results/logs/side_env_{env}.log",
    conda:
        "../../envs/neurokws.yaml"
    shell:
        "bash {input.script} {params.venv} > {log} 2>&1"
