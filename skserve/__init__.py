"""skserve: serve scikit-learn pipelines (settings and the `skserve` command line)."""
