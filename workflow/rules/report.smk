rule build_report:
    input:
        model=MODEL,
        # KID/FID's reference: the raw target domain the manifest names (report/realism.py), so declared
        manifest=MANIFEST,
        raw=[config["domains"]["A"], config["domains"]["B"]],
        image_sets=expand(IMAGE_SET, set=IMAGE_SETS, allow_missing=True),
        videos=expand(VIDEO, video=VIDEOS, allow_missing=True),
    output:
        html=report(
            REPORT,
            caption="../report/run_report.rst",
            category="Report",
        ),
        summary=REPORT_SUMMARY,
        plots=report(
            directory(REPORT_ASSETS),
            patterns=["{plot}.png"],
            caption="../report/report_plots.rst",
            category="Report",
        ),
    log:
        log_file("report"),
    conda:
        "../envs/cyclegan-batch.yaml"
    threads: stage_threads("report")
    resources:
        **stage_resources("report"),
    params:
        options=report_options(),
        run_dir=lambda wildcards, input: os.path.dirname(os.path.dirname(input.model)),
    shell:
        "cyclegan-batch report {params.options} -- {params.run_dir:q} {output.html:q} > {log:q} 2>&1"
