# Training keys are params, so changing one retrains (and reruns everything downstream).
# --no-resume: Snakemake reruns this job only when its inputs or params changed (or it was
# killed), and the trainer would otherwise resume the old run's checkpoint under the new params.
rule train_model:
    input:
        manifest=MANIFEST,
        a=DATA_DOMAIN["A"],
        b=DATA_DOMAIN["B"],
        init_from=init_model(),
    output:
        model=MODEL,
        # best.safetensors is declared only where translation uses it (translate.model: best): a run
        # without the metrics extra or evaluation writes none.
        best=[BEST_MODEL] if TRANSLATE_MODEL == BEST_MODEL else [],
        run=f"{MODEL_DIR}/{runfolder.RUN_JSON}",
        # Declared so that a rerun starts from an empty state/ (no checkpoint or temporary file
        # of a killed run), matching --no-resume.
        state=directory(f"{MODEL_DIR}/{runfolder.STATE_DIR}"),
        losses=report(
            f"{MODEL_DIR}/{runfolder.LOSSES_CSV}",
            caption="../report/training_curves.rst",
            category="Training",
        ),
        samples=report(
            directory(f"{MODEL_DIR}/{runfolder.SAMPLES_DIR}"),
            patterns=["{step}.png"],
            caption="../report/samples.rst",
            category="Training",
        ),
    log:
        log_file("train"),
    conda:
        "../envs/cyclegan-batch.yaml"
    threads: stage_threads("train")
    resources:
        **stage_resources("train", gpus=TRAIN_GPUS),
    params:
        device=DEVICE_OPTIONS,
        preset=config["train"]["preset"],
        minutes=(
            ""
            if config["train"]["minutes"] is None
            else f" --minutes {config['train']['minutes']}"
        ),
        settings=train_settings(),
        init_from=" ".join(f"--init-from {shlex.quote(p)}" for p in init_model()),
        gpus=TRAIN_GPUS,
        data=lambda wildcards, input: os.path.dirname(input.manifest),
        model_dir=lambda wildcards, output: os.path.dirname(output.model),
    shell:
        "cyclegan-batch train --preset {params.preset}{params.minutes} {params.settings} {params.init_from} --no-resume"
        " --gpus {params.gpus} --workers {threads} {params.device}"
        " -- {params.data:q} {params.model_dir:q} > {log:q} 2>&1"
