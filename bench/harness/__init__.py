"""The benchmark harness behind ``bench/run.py``.

Modules: ``procs`` (starting/stopping processes), ``metrics`` (/proc readings),
``fixtures`` (the served files), ``servers`` (how each server is launched),
``subjects`` (the anchor and candidate table), ``loadgen`` (wrk, curl, checks),
``scenarios`` (what is measured and the ratios), ``report`` (text and JSON).
"""
