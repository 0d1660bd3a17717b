"""Stage 1, the matrix: what is built, where, and with which patches.

In: ``matrix.yaml``, profile overlays (``profiles/*.yaml``), ``patches/<pkg>/ledger.yaml``.
Out: :class:`~pipeline.matrix.model.Matrix`, frozen dataclasses (OS releases, flavors, cells,
packages, patch series with their conditions). ``load`` is the entry point (``select`` picks
cells by fnmatch pattern); ``overlay`` merges profiles; ``ledger`` reads the patch series.
"""
