"""Upgrade paths: legacy package sets (manifests, stand-in RPMs, capture) and their checks.

``manifest`` (legacy/<id>.yaml), ``synth`` (stand-in RPMs, the root base package, repos, new-set
stand-ins from rendered specs) and ``capture`` (manifests from an rpm database or RPM files) make
the packages; ``scenarios``, ``checks`` and ``verify`` run and judge the upgrades.
"""
