"""A workflow as one self-contained HTML timeline page (no external assets).

The page carries the workflow as JSON and draws the rows with a few lines of
inline script, so the same data that ``--format json`` prints is what the page
shows, and a test in a headless browser can tell the page actually rendered.
"""

from __future__ import annotations

import html
import json

from natstrace.flow.flow_json import flow_to_dict
from natstrace.flow.tree import Flow

__all__ = ["render_flow_html"]

_STYLE = """
body{font:13px/1.4 system-ui,sans-serif;margin:16px;color:#1d2330;background:#fff}
h1{font-size:17px;margin:0 0 4px}
.summary{color:#5b6475;margin-bottom:12px}
.hop{display:grid;grid-template-columns:minmax(380px,42%) 1fr;border-bottom:1px solid #eef0f4}
.hop:hover{background:#f6f8fb}
.label{white-space:nowrap;overflow:hidden;text-overflow:ellipsis;padding:3px 6px}
.service{font-weight:600;color:#0b6e99}
.op{color:#6b4fbb;margin:0 4px}.op.send{color:#2f7d32}
.meta{color:#5b6475;margin-left:6px}
.err{color:#c62828;font-weight:600;margin-left:6px}
.lane{position:relative;height:22px}
.bar{position:absolute;top:5px;height:12px;border-radius:2px;background:#4a90d9;min-width:2px}
.bar.send{background:#66bb6a}.bar.failed{background:#e53935}
.wait{position:absolute;top:10px;height:2px;background:#f2b134}
.hop.failed .label{background:#fdecea}
"""

# Builds one .hop row per node, depth-first; indentation shows the causal depth,
# the amber line before a process bar is the delivery latency.
_SCRIPT = """
(function(){
  var flow = JSON.parse(document.getElementById('flow-data').textContent);
  var total = Math.max(flow.duration_ms, 0.001);
  var root = document.getElementById('timeline');
  function pct(ms){ return Math.max(0, Math.min(100, ms / total * 100)); }
  function el(tag, cls, text){
    var e = document.createElement(tag); if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text; return e;
  }
  function row(hop, depth){
    var r = el('div', 'hop' + (hop.error ? ' failed' : ''));
    r.dataset.service = hop.service; r.dataset.template = hop.template;
    r.dataset.operation = hop.operation; r.dataset.depth = depth;
    if (hop.delivery_count) r.dataset.deliveryCount = hop.delivery_count;
    var label = el('div', 'label'); label.style.paddingLeft = (6 + depth * 16) + 'px';
    label.appendChild(el('span', 'service', hop.service));
    label.appendChild(el('span', 'op ' + hop.operation, hop.operation));
    label.appendChild(el('span', 'template', hop.template));
    var sign = hop.start_offset_ms < 0 ? '-' : '+';
    var meta = sign + Math.abs(hop.start_offset_ms).toFixed(1) + 'ms  '
      + hop.duration_ms.toFixed(1) + 'ms';
    if (hop.delivery_latency_ms !== null)
      meta += '  latency ' + hop.delivery_latency_ms.toFixed(1) + 'ms';
    if (hop.delivery_count > 1) meta += '  delivery #' + hop.delivery_count;
    if (hop.settlement) meta += '  ' + hop.settlement;
    label.appendChild(el('span', 'meta', meta));
    if (hop.error) {
      var text = hop.error.type + (hop.error.message ? ': ' + hop.error.message : '');
      label.appendChild(el('span', 'err', text));
    }
    label.title = hop.name + '\\ntrace ' + hop.trace_id + '\\nspan ' + hop.span_id;
    var lane = el('div', 'lane');
    if (hop.delivery_latency_ms !== null && hop.delivery_latency_ms > 0) {
      var wait = el('div', 'wait');
      wait.style.left = pct(hop.start_offset_ms - hop.delivery_latency_ms) + '%';
      wait.style.width = pct(hop.delivery_latency_ms) + '%';
      lane.appendChild(wait);
    }
    var bar = el('div', 'bar ' + hop.operation + (hop.error ? ' failed' : ''));
    // A fetch that began waiting before the workflow did is cut at the left edge.
    var left = pct(hop.start_offset_ms);
    bar.style.left = left + '%';
    bar.style.width = Math.max(0, pct(hop.start_offset_ms + hop.duration_ms) - left) + '%';
    lane.appendChild(bar);
    r.appendChild(label); r.appendChild(lane); root.appendChild(r);
    hop.children.forEach(function(child){ row(child, depth + 1); });
  }
  flow.hops.forEach(function(hop){ row(hop, 0); });
  root.dataset.rendered = String(root.children.length);
})();
"""


def render_flow_html(flow: Flow) -> str:
    """The workflow as a complete HTML document."""
    data = flow_to_dict(flow)
    # "</" inside the JSON would end the script element early; \\u003c is the same
    # character to JSON.parse.
    payload = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")
    title = html.escape(f"workflow {flow.correlation_id}")
    errors = f", {flow.errors} error(s)" if flow.errors else ""
    summary = html.escape(
        f"{len(flow.trace_ids)} trace(s), {len(flow.services)} service(s): "
        f"{', '.join(flow.services)}; {len(flow.spans)} span(s){errors}; "
        f"{(flow.end_ns - flow.start_ns) / 1e6:.1f} ms"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{_STYLE}</style></head><body>"
        f'<h1>{title}</h1><div class="summary">{summary}</div>'
        '<div id="timeline"></div>'
        f'<script type="application/json" id="flow-data">{payload}</script>'
        f"<script>{_SCRIPT}</script></body></html>\n"
    )
