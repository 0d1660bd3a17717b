"""Stage 7, the migration gate: will each legacy VM live-migrate onto the new build, and back?

data (migration.yaml) + probe (the emulator, over QMP) + cpumap (libvirt's cpu map) + domains
(legacy domain XMLs) -> gate (findings and a verdict per VM) -> junit.
"""
