"""The shared bottom every stage uses, importing no stage.

``cmd`` (the one subprocess runner), ``errors`` (exceptions with their exit codes),
``findings`` (check results with stable ids), ``evr`` (rpm version comparison), ``files``
(copy/link helpers), ``yamlsrc`` and ``schema`` (YAML with positions, and the typed reader that
turns it into values or a one-line ``FILE:LINE: KEY: ...`` error).
"""
