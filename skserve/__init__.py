"""skserve: the `skserve` command line, the top floor that may import every package."""
