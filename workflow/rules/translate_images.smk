# One job per configured image set. Translate options are params of these rules only, so
# changing them re-translates without retraining.
rule translate_image_set:
    input:
        images=image_set_dir,
        model=TRANSLATE_MODEL,
    output:
        report(
            directory(IMAGE_SET),
            patterns=["{name}.png", runfolder.CYCLE_CSV],
            caption="../report/translated_images.rst",
            category="Translated images",
            subcategory="{set}",
        ),
    log:
        log_file("translate_images/{set}"),
    conda:
        "../envs/cyclegan-batch.yaml"
    threads: stage_threads("translate")
    resources:
        **stage_resources("translate", gpus=1),
    params:
        device=DEVICE_OPTIONS,
        direction=config["translate"]["direction"],
        batch_size=config["translate"]["batch_size"],
        reconstruction=(
            "--save-reconstruction"
            if config["translate"]["save_reconstruction"]
            else ""
        ),
    shell:
        "cyclegan-batch translate --model {input.model:q} --direction {params.direction:q}"
        " --batch-size {params.batch_size} --workers {threads} {params.reconstruction} {params.device}"
        " -- {input.images:q} {output:q} > {log:q} 2>&1"
        # exit 3: done, some images failed; each is in cycle.csv with its reason
        f" || [ $? -eq {int(ExitCode.PARTIAL)} ]"
