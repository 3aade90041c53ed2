rule prepare_data:
    input:
        a=config["domains"]["A"],
        b=config["domains"]["B"],
    output:
        manifest=MANIFEST,
        a=directory(DATA_DOMAIN["A"]),
        b=directory(DATA_DOMAIN["B"]),
    log:
        log_file("prepare"),
    conda:
        "../envs/cyclegan-batch.yaml"
    threads: stage_threads("prepare")
    resources:
        **stage_resources("prepare"),
    params:
        load_size=TRAIN.load_size,
        crop_size=TRAIN.crop_size,
        test_fraction=config["prepare"]["test_fraction"],
        val_fraction=config["prepare"]["val_fraction"],
        seed=config["prepare"]["seed"],
        data=lambda wildcards, output: os.path.dirname(output.manifest),
    shell:
        "cyclegan-batch prepare --load-size {params.load_size} --crop-size {params.crop_size}"
        " --test-fraction {params.test_fraction} --val-fraction {params.val_fraction} --seed {params.seed}"
        " --jobs {threads}"
        " -- {input.a:q} {input.b:q} {params.data:q} > {log:q} 2>&1"
        # exit 3: done, some files failed; each is in the manifest with its reason
        f" || [ $? -eq {int(ExitCode.PARTIAL)} ]"
