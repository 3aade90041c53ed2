rule build_report:
    input:
        model=MODEL,
        image_sets=expand("results/{{exp}}/translated/images/{set}", set=IMAGE_SETS),
        videos=expand("results/{{exp}}/translated/videos/{video}.mp4", video=VIDEOS),
    output:
        html=report(
            "results/{exp}/report/index.html",
            caption="../report/run_report.rst",
            category="Report",
        ),
        summary="results/{exp}/report/summary.json",
        plots=report(
            directory("results/{exp}/report/index_assets"),
            patterns=["{plot}.png"],
            caption="../report/report_plots.rst",
            category="Report",
        ),
    log:
        "results/{exp}/logs/report.log",
    conda:
        "../envs/cyclegan-batch.yaml"
    threads: stage_threads("report")
    resources:
        **stage_resources("report"),
    params:
        gates=report_gates(),
        run_dir=lambda wildcards, input: os.path.dirname(os.path.dirname(input.model)),
    shell:
        "cyclegan-batch report {params.gates} -- {params.run_dir:q} {output.html:q} > {log:q} 2>&1"
