"""The middleware contract, the chains and the middlewares that run in them.

:mod:`.contract` says how to write a middleware; :mod:`.chain` builds the
publish chain (correlation, tracing, metrics, yours) and the handle chain, whose
messages are driven by one :mod:`.delivery` each. The instrumented client and
its subscriptions, which send and hand out messages through these chains, are in
:mod:`natstrace.client`.
"""
