"""JetStream, traced: what ``nc.jetstream()`` returns on an instrumented client.

:mod:`.context` is the JetStream context; it publishes through :mod:`.publish`,
hands out push and pull subscriptions (:mod:`.push`, :mod:`.pull`, with fetched
batches in :mod:`.batch` and what both share in :mod:`.consume`), records
settlements (:mod:`.settle`) and traces key-value watchers (:mod:`.key_value`).
:mod:`.outbox` carries a trace through a transactional outbox.
"""
