"""The natstrace demo: an order workflow on NATS, one process per service.

``natstrace demo`` (see :func:`run_demo`) starts an embedded nats-server and
these services, each its own process with its own ``service.name``:

- ``orders`` (:mod:`.orders`) places orders under an ambient correlation ID, and
  publishes ``orders.audit``, which nobody consumes;
- ``payments`` (:mod:`.payments`) reacts to ``orders.created`` (choreography);
- ``inventory`` (:mod:`.inventory`) reserves and releases stock by request-reply;
- ``shipping`` (:mod:`.shipping`) pulls shipments from a JetStream stream, some
  failing transiently and redelivered;
- ``orchestrator`` (:mod:`.orchestrator`) runs the create-order saga, and
  compensates a reservation when the payment is declined.

Spans go to ``natstrace-traces.jsonl`` (or OTLP), so ``natstrace flow``,
``orphans``, ``topology`` and ``slow`` work on the run afterwards.
"""

from natstrace.demo.options import DemoOptions
from natstrace.demo.runner import run_demo

__all__ = ["DemoOptions", "run_demo"]
