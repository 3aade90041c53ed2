# The demo inputs: two unpaired domains, held-out pairs and videos, built from photos shipped in scikit-image.
from cyclegan_batch.demo import VIDEOS as DEMO_VIDEOS


rule build_demo:
    output:
        a=directory("results/{exp}/raw/A"),
        b=directory("results/{exp}/raw/B"),
        heldout_a=directory("results/{exp}/raw/heldout/A"),
        heldout_b=directory("results/{exp}/raw/heldout/B_true"),
        videos=expand(
            "results/{{exp}}/raw/videos/{video}.mp4",
            video=[v.name for v in DEMO_VIDEOS],
        ),
    log:
        "results/{exp}/logs/demo.log",
    conda:
        "../envs/cyclegan-batch.yaml"
    threads: stage_threads("demo")
    resources:
        **stage_resources("demo"),
    params:
        raw=lambda wildcards, output: os.path.dirname(output.a),
    shell:
        "cyclegan-batch demo -- {params.raw:q} > {log:q} 2>&1"


# The demo's style is a known function, so fidelity is a number: PSNR of G(a) against the true
# style on the held-out pairs, next to PSNR of a itself.
rule score_demo:
    input:
        heldout_a="results/{exp}/raw/heldout/A",
        heldout_b="results/{exp}/raw/heldout/B_true",
        model=MODEL,
    output:
        report(
            "results/{exp}/demo_score.json",
            caption="../report/demo_score.rst",
            category="Demo",
        ),
    log:
        "results/{exp}/logs/demo_score.log",
    conda:
        "../envs/cyclegan-batch.yaml"
    threads: stage_threads("translate")
    resources:
        **stage_resources("translate", gpus=1),
    params:
        device=DEVICE_OPTIONS,
        heldout=lambda wildcards, input: os.path.dirname(input.heldout_a),
    shell:
        "cyclegan-batch demo-score --model {input.model:q} {params.device} --json"
        " -- {params.heldout:q} > {output:q} 2> {log:q}"
