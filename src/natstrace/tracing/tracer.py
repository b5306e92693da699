"""natstrace's tracer: taken from a tracer provider, and found again once one is installed.

A client instrumented before the application installs its tracer provider gets,
from OpenTelemetry's global provider, a stand-in (``ProxyTracer``) that forwards
every call to the provider installed later. Its spans are right, but the stand-in
hides the real tracer's sampler and processors, which natstrace reads to start
spans without re-checking their attributes and to skip building attributes for
spans that will not be recorded. :func:`installed_tracer` gives the real one.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from opentelemetry import trace
from opentelemetry.trace import Tracer, TracerProvider

from natstrace.tracing.semconv import INSTRUMENTATION_NAME, SCHEMA_URL

__all__ = ["installed_tracer", "is_stand_in", "natstrace_tracer"]


def _version() -> str:
    try:
        return version("natstrace")
    except PackageNotFoundError:
        return "0"


def natstrace_tracer(provider: TracerProvider | None = None) -> Tracer:
    """natstrace's tracer from ``provider`` (default: the global one)."""
    provider = provider or trace.get_tracer_provider()
    return provider.get_tracer(INSTRUMENTATION_NAME, _version(), schema_url=SCHEMA_URL)


def is_stand_in(tracer: Tracer) -> bool:
    """Whether ``tracer`` is the global provider's stand-in for a provider not yet installed."""
    return type(tracer) is trace.ProxyTracer


def installed_tracer(tracer: Tracer) -> Tracer:
    """``tracer``; for natstrace's stand-in, natstrace's tracer from the provider
    installed since (the same scope, the tracer the stand-in forwards to)."""
    if is_stand_in(tracer):
        provider = trace.get_tracer_provider()
        if not isinstance(provider, trace.ProxyTracerProvider):
            return natstrace_tracer(provider)
    return tracer
