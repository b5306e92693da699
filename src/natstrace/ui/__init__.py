"""``natstrace ui``: a local web console for workflows, topology, orphans and slow hops.

It reads the same sources as the flow tools (OTLP JSON lines files, which it
follows as they grow, or Jaeger's query API, which it polls) and serves a page
with no external assets on 127.0.0.1::

    from natstrace.ui import SourceConfig, SpanStore, UiServer

    store = SpanStore(SourceConfig(files=[Path("natstrace-traces.jsonl")]))
    store.refresh()
    with UiServer(store, port=8765) as server:
        print(server.url)
        ...

See docs/ui.md.
"""

from natstrace.ui.server import UiServer, is_loopback
from natstrace.ui.store import Snapshot, SourceConfig, SpanStore

__all__ = ["Snapshot", "SourceConfig", "SpanStore", "UiServer", "is_loopback"]
