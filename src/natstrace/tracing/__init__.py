"""Tracing: OpenTelemetry set-up, propagation over NATS headers, correlation context."""
