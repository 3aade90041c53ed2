# Videos fan out per segment: split (a checkpoint: the segment count is known only after it
# ran), translate each segment as its own job (many GPU jobs on a cluster), join with the
# original audio. Translated segments live inside the split's folder, so a new split (other
# segment_seconds, changed video) deletes them too and `video join` never picks up a stale one.


checkpoint split_video:
    input:
        video_file,
    output:
        directory(SEGMENTS),
    log:
        log_file("split/{video}"),
    conda:
        "../envs/cyclegan-batch.yaml"
    threads: stage_threads("video")
    resources:
        **stage_resources("video"),
    params:
        seconds=config["translate"]["segment_seconds"],
    shell:
        "cyclegan-batch video split --seconds {params.seconds} -- {input:q} {output:q} > {log:q} 2>&1"


rule translate_segment:
    input:
        segment=SEGMENT_IN,
        model=TRANSLATE_MODEL,
        original=video_file,
    output:
        video=SEGMENT_OUT,
        cycle=SEGMENT_OUT + runfolder.VIDEO_CYCLE_SUFFIX,
        properties=SEGMENT_OUT + runfolder.VIDEO_SIDECAR_SUFFIX,
    log:
        log_file("translate_segment/{video}/{seg}"),
    conda:
        "../envs/cyclegan-batch.yaml"
    threads: stage_threads("translate")
    resources:
        **stage_resources("translate", gpus=1),
    params:
        device=DEVICE_OPTIONS,
        direction=config["translate"]["direction"],
        batch_size=config["translate"]["batch_size"],
        temporal=config["translate"]["temporal"],
    shell:
        "cyclegan-batch translate --model {input.model:q} --direction {params.direction:q}"
        " --batch-size {params.batch_size} {params.device} --temporal-strength {params.temporal}"
        " --context-from {input.original:q} -- {input.segment:q} {output.video:q} > {log:q} 2>&1"


rule join_video:
    input:
        segments=translated_segments,
        original=video_file,
    output:
        video=report(
            VIDEO,
            caption="../report/videos.rst",
            category="Translated videos",
            subcategory="{video}",
        ),
        cycle=report(
            VIDEO + runfolder.VIDEO_CYCLE_SUFFIX,
            caption="../report/video_cycle.rst",
            category="Translated videos",
            subcategory="{video}",
        ),
        properties=VIDEO + runfolder.VIDEO_SIDECAR_SUFFIX,
    log:
        log_file("join/{video}"),
    conda:
        "../envs/cyclegan-batch.yaml"
    threads: stage_threads("video")
    resources:
        **stage_resources("video"),
    params:
        segments=lambda wildcards, input: os.path.dirname(input.segments[0]),
    shell:
        "cyclegan-batch video join -- {params.segments:q} {input.original:q} {output.video:q} > {log:q} 2>&1"
