"""``natstrace.instrument(nc)``: wrap a connected nats-py client."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Final

from opentelemetry.trace import TracerProvider

from natstrace.client import internals
from natstrace.client.instrumented import InstrumentedClient
from natstrace.client.subjects import SubjectTemplates
from natstrace.config import ConsumerSpanPolicy, Trust
from natstrace.instrumentor.patch import claim
from natstrace.lifecycle import current_settings, default_metrics
from natstrace.metrics.instruments import NatstraceMetrics
from natstrace.middleware.chain import ClientChains
from natstrace.middleware.contract import HandleMiddleware, PublishMiddleware
from natstrace.tracing.tracer import natstrace_tracer

if TYPE_CHECKING:
    from nats.aio.client import Client

__all__ = ["INSTRUMENT_OPTIONS", "instrument"]


def instrument(
    nc: Client | InstrumentedClient,
    *,
    tracer_provider: TracerProvider | None = None,
    metrics: NatstraceMetrics | None = None,
    consumer_span_policy: ConsumerSpanPolicy | None = None,
    subject_templates: Iterable[str] | None = None,
    subject_template: Callable[[str], str | None] | None = None,
    publish_middleware: Sequence[PublishMiddleware] = (),
    handle_middleware: Sequence[HandleMiddleware] = (),
    trust: Trust = "trusted",
    baggage_allowlist: Iterable[str] | None = None,
) -> InstrumentedClient:
    """Wrap a connected nats-py client so that its messages are traced and measured.

    The result has the client's ``publish``, ``request`` and ``subscribe`` (traced)
    and passes everything else through. Instrumenting an instrumented client
    returns it unchanged.

    Args:
        tracer_provider: default: the global one (set by :func:`natstrace.configure`
            or by the application).
        metrics: default: the process-wide instruments in the default registry.
        consumer_span_policy: ``parent``, ``link`` or ``auto``; default from
            ``NATSTRACE_CONSUMER_SPAN_POLICY``, else ``auto``.
        subject_templates: wildcard subjects that published subjects fold into, for
            span names and metric labels; default from ``NATSTRACE_SUBJECT_TEMPLATES``.
        subject_template: a function from a published subject to its template
            (``None``: not mine), tried before ``subject_templates``.
        publish_middleware: your middlewares, run innermost on the way out.
        handle_middleware: your middlewares, run innermost on the way in.
        trust: the default for this client's subscriptions (``subscribe(trust=...)``
            wins): ``untrusted`` starts a new, linked trace for every delivered
            message, ignores the producer's sampled flag and drops its baggage
            except ``baggage_allowlist``.
        baggage_allowlist: baggage keys an untrusted subscription lets through;
            default from ``NATSTRACE_BAGGAGE_ALLOWLIST``, else none.

    Example::

        nc = natstrace.instrument(await nats.connect("nats://localhost:4222"))
        await nc.publish("orders.created", b"{}")
    """
    if isinstance(nc, InstrumentedClient):
        return nc
    # Zero-code instrumentation (natstrace.instrumentor) must not trace this client a
    # second time: the wrapper made here does.
    claim(nc)
    settings = current_settings()
    tracer = natstrace_tracer(tracer_provider)
    templates = SubjectTemplates(
        settings.subject_templates if subject_templates is None else subject_templates,
        subject_template,
        inbox_prefix=internals.inbox_prefix(nc),
    )
    chains = ClientChains(
        nc,
        tracer=tracer,
        metrics=metrics or default_metrics(),
        templates=templates,
        policy=consumer_span_policy or settings.consumer_span_policy,
        publish_middleware=publish_middleware,
        handle_middleware=handle_middleware,
        trust=trust,
        baggage_allowlist=(
            settings.baggage_allowlist if baggage_allowlist is None else baggage_allowlist
        ),
    )
    return InstrumentedClient(nc, chains)


INSTRUMENT_OPTIONS: Final = frozenset(
    name
    for name, parameter in inspect.signature(instrument).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY
)
"""The keyword options of :func:`instrument`, read from its signature so that
whatever passes them on (``NatsInstrumentor``) takes exactly these."""
