"""Span export over OTLP: natstrace's encoder and exporters."""
