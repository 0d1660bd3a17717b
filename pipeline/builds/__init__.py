"""Stage 4, the builds: a pure plan, then a backend that executes it.

In: rendered specs, verified sources, the backend's settings. Out: RPMs, logs and a manifest
per unit under ``.cache/results/<os>/<pkg>/<fingerprint>/``, and a repository per OS.
``planner`` is pure (units, dependency order, fingerprints); ``plan`` gathers its inputs from
the tree; ``run`` executes it (parallel, resumable) into the ``results`` store; ``builders/``
holds the interchangeable backends (local rpmbuild, mock, koji).
"""
