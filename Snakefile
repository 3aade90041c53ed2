# cyclegan-batch: prepare -> train -> translate images and videos -> report.
# `snakemake --cores all` runs the demo (config/config.yaml says `demo: true`; the demo mode's own
# inputs and settings, config/demo.yaml, go beneath the config: see workflow/rules/common.smk).
# README.md and the manual (docs/workflow.md) have the rest.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


wildcard_constraints:
    exp=NAME,
    set=NAME,
    video=NAME,
    seg=SEGMENT,


if config["demo"]:

    include: "workflow/rules/demo.smk"


include: "workflow/rules/prepare.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/translate_images.smk"
include: "workflow/rules/videos.smk"
include: "workflow/rules/report.smk"


localrules:
    all,
    prepare,
    train,
    translate_images,
    translate_videos,
    report,


rule all:
    default_target: True
    input:
        run_outputs("translate_images", "translate_videos", "report", "demo_score"),


rule prepare:
    input:
        run_outputs("prepare"),


rule train:
    input:
        run_outputs("train"),


rule translate_images:
    input:
        run_outputs("translate_images"),


rule translate_videos:
    input:
        run_outputs("translate_videos"),


rule report:
    input:
        run_outputs("report"),
