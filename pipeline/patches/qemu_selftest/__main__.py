"""``python -m pipeline.patches.qemu_selftest``: see :mod:`.run`."""

from pipeline.patches.qemu_selftest.run import main

raise SystemExit(main())
