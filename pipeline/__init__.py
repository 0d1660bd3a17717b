"""virt-pipeline: one source of the virtualization stack, rendered, built and verified per OS.

The flow, one subpackage per stage, each importing only the stages before it and ``core``:

    matrix    matrix.yaml, profiles and patch ledgers   -> the typed, frozen model
    specs     the model                                 -> rendered specs, rpm's view of them
    patches   the ledger's series and pristine sources  -> apply / build / self-test results
    builds    rendered specs, sources, a backend        -> RPMs and a repository per OS
    upgrade   legacy sets, new packages, a sandbox      -> the observed upgrade, judged

``core`` is the shared bottom (the one subprocess runner, errors, findings, EVRs, YAML with
positions); ``commands`` and ``cli`` sit on top. ``tests/unit/test_layout.py`` enforces it.
"""

__version__ = "0.1.0"
