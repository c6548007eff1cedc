"""Conformance checks: the same HTTP-level requests against the fake and the real API server.

``tests/conformance/test_conformance.py`` runs every check once against ``tests.fakekube`` and
once against ``tests.realkube`` (a real kube-apiserver v1.37.2). The expected answers written in
the checks are what the real server answers; the fake must give the same status codes, Status
reasons, messages and details. See ``helpers.py`` for the uniform raw-HTTP client.
"""
