"""The job runner: procrastinate's worker, the loops beside it, and the periodic upkeep.

`app.py` holds the procrastinate App with every task (one list), `worker.py` runs it
(`eaglet worker`), `loops.py` lists the long-lived loops it also runs, `upkeep.py` the periodic
jobs that are nobody's domain (stalled jobs, Idempotency-Keys, retention: `retention.py`).
"""
