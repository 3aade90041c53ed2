# The demo inputs: two unpaired domains, held-out pairs and videos, built from photos shipped in scikit-image.
from cyclegan_batch.demo import VIDEOS as DEMO_VIDEOS


rule build_demo:
    output:
        a=directory(RAW_DOMAIN["A"]),
        b=directory(RAW_DOMAIN["B"]),
        heldout_a=directory(HELDOUT_A),
        heldout_b=directory(HELDOUT_TRUE_B),
        videos=expand(
            RAW_VIDEO,
            video=[v.name for v in DEMO_VIDEOS],
            allow_missing=True,
        ),
    log:
        log_file("demo"),
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
# style on the held-out pairs, next to PSNR of a itself; for the model the translate rules use.
rule score_demo:
    input:
        heldout_a=HELDOUT_A,
        heldout_b=HELDOUT_TRUE_B,
        model=TRANSLATE_MODEL,
    output:
        report(
            DEMO_SCORE,
            caption="../report/demo_score.rst",
            category="Demo",
        ),
    log:
        log_file("demo_score"),
    conda:
        "../envs/cyclegan-batch.yaml"
    threads: stage_threads("translate")
    resources:
        **stage_resources("translate", gpus=1),
    params:
        device=DEVICE_OPTIONS,
        kid=DEMO_SCORE_KID,
        heldout=lambda wildcards, input: os.path.dirname(input.heldout_a),
    shell:
        "cyclegan-batch demo-score --model {input.model:q} {params.device} {params.kid} --json"
        " -- {params.heldout:q} > {output:q} 2> {log:q}"
