"""The gutbrain web portal: labs upload samples, people see their own reports over time.

The portal sits beside the command line, above :mod:`gutbrain.workflow`: it runs the same
``gutbrain run`` on uploaded data and shows the same report. It owns accounts, sessions, jobs, the
database and the files uploaded and produced, nothing scientific.

Terms
-----
*lab*
    An account that uploads samples for people it serves (with their consent record).
*person*
    An account that sees only their own samples, reports and longitudinal view.
*job*
    One run of ``gutbrain run`` for one sample, queued in the database and run by a worker.
*summary*
    What the longitudinal view plots for one finished sample (diversity, guild shares,
    questionnaire totals, safety alerts), read from the run's ``result.json``.
"""
