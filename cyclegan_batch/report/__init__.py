"""The report: its model, reading a run folder, gates, the HTML page and its plots."""
