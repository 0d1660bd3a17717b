"""Stage 3, the patch series: does every ledger series apply, build and do what it claims?

In: the model's series per cell, pristine sources (a tarball or a tree the user brings).
Out: per-patch results and findings. ``patchcheck`` applies each distinct series with
``--fuzz=0``; ``prepcheck`` runs ``rpmbuild -bp`` of the rendered specs; ``py2compat`` builds
the ported libvirt-python under a real Python 2.7; ``qemu_selftest`` builds QEMU from the
series and tests machine types, migration state and the vhost-user reconnect fix.
"""
