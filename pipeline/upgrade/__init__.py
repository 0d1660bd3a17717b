"""Stage 5, upgrade verification: legacy packages first, then the new ones, judged.

In: ``upgrades.yaml`` scenarios, legacy manifests (``legacy/*.yaml``), the new packages (built
RPMs from the builds stage, or stand-ins synthesised from the rendered specs). Out: findings
per scenario and check, as JSON and JUnit. ``manifest``/``capture`` describe and record legacy
sets; ``synth`` makes stand-in RPMs and repositories; ``prepare`` gathers a scenario's inputs;
``checks`` judges an observed transaction; ``verify`` runs it in a sandbox from ``sandboxes/``
(an isolated root, podman or docker).
"""
