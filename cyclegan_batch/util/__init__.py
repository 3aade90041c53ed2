"""Small building blocks every stage uses: atomic writes, bounded concurrency, the journal, progress, threads."""
