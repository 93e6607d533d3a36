"""Lodge benchmarks: `make bench` (or `python -m bench`) measures cost, round trips, CPU, memory and
cold start of the ingest functions over the captured reference workloads in bench/workloads/."""
