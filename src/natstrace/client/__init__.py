"""The instrumented client and its subscriptions, and what they read from the wire.

``instrument`` (:mod:`.instrument`) wraps a connected nats-py client in an
:class:`~natstrace.client.instrumented.InstrumentedClient`, whose publishes and
handled messages run through the middleware chains (:mod:`natstrace.middleware`).
Beside them: the header contract and the checks on incoming values
(:mod:`.headers`), subject templates (:mod:`.subjects`), the server's payload
limit (:mod:`.payload_limit`), and every touch of nats-py internals
(:mod:`.internals`).
"""
