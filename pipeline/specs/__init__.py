"""Stage 2, the specs: the model rendered per OS, and rpm's own view of the result.

In: the :class:`~pipeline.matrix.model.Matrix`. Out: ``specs/<os>/<pkg>.spec`` (``render``),
what ``rpmspec`` says each cell's spec declares (``rpmspec``), findings (``validate``),
cell-to-cell differences (``celldiff``), verified source tarballs (``sources``) and SRPMs
(``srpm``), which the patch checks and the builds both consume.
"""
