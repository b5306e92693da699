"""The publish and handle middleware chains, and the client and subscription wrappers.

See :mod:`natstrace.middleware.types` for how to write a middleware and
:mod:`natstrace.middleware.pipeline` for the order they run in.
"""
