"""The translate verb: scan once, classify, dispatch images and videos to their pipelines; cycle.csv."""
