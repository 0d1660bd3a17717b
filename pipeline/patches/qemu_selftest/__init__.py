"""Self-test of our QEMU 6.2.0 patch series (patches/qemu/).

Copies a pristine QEMU 6.2.0 source tree (a release tarball, unpacked) into WORKDIR, applies
the series with ``patch -p1 --fuzz=0``, builds ``x86_64-softmmu`` and checks, one result per
line: every BC-Linux 7 machine type is listed, starts paused, survives a save to a file and a
restore, carries ``i8042.extended-state=false`` (and pc-i440fx-6.2 keeps ``true``); a vhost-user
chardev in server mode survives its client going away and coming back; and, rebuilt WITHOUT the
fix patch, the same test aborts QEMU (so the test can fail), after which the fix is reapplied.

With ``--legacy-qemu BINARY`` (a qemu-kvm-ev 2.12 x86_64 build), every BC-Linux 7 machine type
both builds offer is also started paused in the legacy QEMU, saved to a file and loaded into the
patched 6.2 (``legacy-load:<machine>``), and the other way round
(``legacy-reverse-load:<machine>``, what a live-migration rollback needs); without it these checks
are reported as skipped.

    python -m pipeline.patches.qemu_selftest --tree DIR --series FILE... --workdir DIR
        [--json] [--keep]
        [--legacy-qemu BINARY]

Short commands go through ``pipeline.core.cmd.run``; the QEMU guests under test are long-running
processes driven over QMP, so they are started here with ``subprocess.Popen`` (argv lists, own
process group, always killed).
"""

# Modules: results (constants, result type, pure parsers), qemu (a QEMU under QMP), tree (copy,
# patch, build), machines, legacy, vhost_user (the checks), run (the whole test, the CLI).
