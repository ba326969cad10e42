"""Sustained, realistic load through the gateway (issue 10): ``bench/load/run.py``."""
