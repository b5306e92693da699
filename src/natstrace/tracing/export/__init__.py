"""Span export over OTLP: natstrace's encoder and exporter.

:class:`OtlpSpanExporter` is what :func:`natstrace.configure` installs; an
application with its own tracer provider can use it directly::

    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from natstrace import OtlpSpanExporter

    provider.add_span_processor(BatchSpanProcessor(OtlpSpanExporter("grpc")))
"""

from natstrace.tracing.export.exporter import OtlpSpanExporter
from natstrace.tracing.export.otlp_settings import OtlpSettings

__all__ = ["OtlpSettings", "OtlpSpanExporter"]
