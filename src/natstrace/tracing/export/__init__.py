"""Span export over OTLP: natstrace's encoder, exporter and span processor.

:func:`natstrace.configure` installs :class:`OtlpSpanExporter` behind an
:class:`EncodingSpanProcessor`, which encodes each span as it ends and sends the
encoded spans in batches. An application with its own tracer provider can use
both directly::

    from natstrace import EncodingSpanProcessor, OtlpSpanExporter

    provider.add_span_processor(EncodingSpanProcessor(OtlpSpanExporter("grpc")))

The exporter also works behind the SDK's ``BatchSpanProcessor``, which encodes
each batch on its worker thread instead.
"""

from natstrace.tracing.export.exporter import OtlpSpanExporter
from natstrace.tracing.export.otlp_settings import OtlpSettings
from natstrace.tracing.export.processor import EncodingSpanProcessor

__all__ = ["EncodingSpanProcessor", "OtlpSettings", "OtlpSpanExporter"]
