"""virt-pipeline: one source of the virtualization stack, rendered, built and verified per OS."""

__version__ = "0.1.0"
