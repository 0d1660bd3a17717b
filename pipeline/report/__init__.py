"""The evidence bundle: the last run of every stage as one static HTML page plus JSON.

``collect`` reads the run records and result folders into one JSON-ready model, ``compare``
adds what changed against the previous release as rpm sees it, ``repro`` the command that
reproduces each red cell, and ``bundle`` writes ``index.html``, ``report.json`` and copies of
the logs they link to.
"""
