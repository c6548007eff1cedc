"""Run Nextflow pipelines on Kubernetes, with no server process."""

__version__ = "0.1.0"
