"""Prometheus metrics: the instruments, their exemplars, and the HTTP endpoint.

Example::

    from prometheus_client import CollectorRegistry
    from natstrace.metrics import NatstraceMetrics, start_http_server

    registry = CollectorRegistry()
    nc = natstrace.instrument(raw, metrics=NatstraceMetrics(registry, service_name="orders"))
    start_http_server(9464, registry=registry)
"""

from natstrace.metrics.http import MetricsServer, start_http_server
from natstrace.metrics.instruments import DURATION_BUCKETS, NatstraceMetrics

__all__ = ["DURATION_BUCKETS", "MetricsServer", "NatstraceMetrics", "start_http_server"]
