"""selfeng's projections folded by a faust-streaming worker over a ``kafka://`` log.

Needs the ``faust`` extra (``pip install selfeng[faust]``). ``app`` builds the faust app
and runs a worker (``run_worker``; ``python -m selfeng.infra.faust URL``), and explains why
every projection is folded globally through one partition; ``store`` keeps the fold's
state in faust tables; ``read`` reads those tables back from their changelogs without
faust; ``envelope`` and ``names`` are the pieces they share. Only ``app`` imports faust.
"""
