"""Speed and memory benchmarks: scripts that print tables of measured figures against targets."""
