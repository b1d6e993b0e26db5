"""On-demand benchmarks (``make bench`` or ``python -m benchmarks.NAME``); see ../shared BENCH rules:
side-by-side ratios in one run, alternating A/B, median and range, ``BENCH {...}`` as the last line."""
