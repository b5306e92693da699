"""A workflow as one self-contained HTML timeline page (no external assets).

Every hop's label wraps instead of being cut (errors, deliveries and settlement
stay readable at any width); a time axis starts at the earliest span, so a fetch
that began waiting before the first send is drawn at its real length; a legend
explains the colours and markers.

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
.summary{color:#5b6475;margin-bottom:8px}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;color:#5b6475;margin-bottom:10px}
.legend span{display:inline-flex;align-items:center;gap:5px}
.swatch{display:inline-block;width:18px;height:10px;border-radius:2px}
.swatch.line{height:2px;border-radius:0}
.hop,.axis{display:grid;grid-template-columns:minmax(360px,46%) 1fr;border-bottom:1px solid #eef0f4}
.hop:hover{background:#f6f8fb}
.label{white-space:normal;overflow-wrap:anywhere;padding:3px 6px;min-width:0}
.service{font-weight:600;color:#0b6e99}
.op{color:#6b4fbb;margin:0 4px}.op.send{color:#2f7d32}.op.receive{color:#6d6d6d}
.cause{color:#5b6475;margin-left:6px}
.meta{display:block;color:#5b6475}
.err{display:block;color:#c62828;font-weight:600}
.lane{position:relative;min-height:22px}
.bar{position:absolute;top:5px;height:12px;border-radius:2px;background:#4a90d9;min-width:2px}
.bar.send,.swatch.send{background:#66bb6a}.bar.receive,.swatch.receive{background:#b0b7c3}
.bar.failed,.swatch.failed{background:#e53935}.swatch.process{background:#4a90d9}
.wait,.swatch.wait{position:absolute;top:10px;height:2px;background:#f2b134}
.swatch.wait{position:static}
.hop.failed .label{background:#fdecea}
.axis{border-bottom:1px solid #c9ced8;color:#5b6475;font-size:11px}
.ticks{position:relative;height:18px}
.tick{position:absolute;top:0;bottom:0;border-left:1px solid #c9ced8;padding-left:3px;
white-space:nowrap}
.tick.zero{border-left:1px solid #1d2330;color:#1d2330}
.tick.end{border-left:none;border-right:1px solid #c9ced8;padding:0 3px 0 0;
transform:translateX(-100%)}
"""

_LEGEND = (
    '<div class="legend" id="legend">'
    '<span><i class="swatch send"></i>send / request (publishing)</span>'
    '<span><i class="swatch process"></i>process (handling a message)</span>'
    '<span><i class="swatch receive"></i>receive (a JetStream fetch waiting for messages)</span>'
    '<span><i class="swatch failed"></i>failed</span>'
    '<span><i class="swatch line wait"></i>delivery wait: from the publish to the start of '
    "handling</span>"
    "<span>delivery #N: redelivered by JetStream; ack / nak / term: how it was settled</span>"
    "<span>[link]: in another trace, linked to its producer; [message], [causation]: "
    "joined by message ID or Causation-Id</span>"
    "<span>0 on the axis: the first message was sent; a negative offset is a receive "
    "that began waiting before it</span>"
    "</div>"
)

# Builds the axis, then one .hop row per node, depth-first; indentation shows the
# causal depth. The axis starts at the earliest span, so a fetch that began waiting
# before the first send is drawn at its real length, left of 0.
_SCRIPT = """
(function(){
  var flow = JSON.parse(document.getElementById('flow-data').textContent);
  var lo = 0, hi = Math.max(flow.duration_ms, 0.001);
  function bounds(hop){
    lo = Math.min(lo, hop.start_offset_ms);
    hi = Math.max(hi, hop.start_offset_ms + hop.duration_ms);
    hop.children.forEach(bounds);
  }
  flow.hops.forEach(bounds);
  var total = hi - lo;
  var root = document.getElementById('timeline');
  function pct(ms){ return Math.max(0, Math.min(100, (ms - lo) / total * 100)); }
  function el(tag, cls, text){
    var e = document.createElement(tag); if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text; return e;
  }
  function ms(value){
    var a = Math.abs(value);
    return (a >= 1000 ? (value / 1000).toFixed(2) + 's'
      : a >= 1 ? value.toFixed(1) + 'ms' : (value * 1000).toFixed(0) + '\\u00b5s');
  }
  function axis(){
    var step = Math.pow(10, Math.floor(Math.log10(total / 4)));
    if (total / step > 12) step *= 5; else if (total / step > 6) step *= 2;
    var ticks = el('div', 'ticks');
    for (var t = Math.ceil(lo / step) * step; t <= hi; t += step) {
      var value = Math.abs(t) < step / 2 ? 0 : t;
      var tick = el('div', 'tick' + (value === 0 ? ' zero' : ''),
        value === 0 ? '0' : (value > 0 ? '+' : '') + ms(value));
      // Near the right edge the label goes left of its line, inside the page.
      if (pct(value) > 85) tick.className += ' end';
      tick.style.left = pct(value) + '%'; ticks.appendChild(tick);
    }
    var row = document.getElementById('axis');
    row.appendChild(el('div', 'label', 'hop (offset from the first send, duration)'));
    row.appendChild(ticks);
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
    if (hop.cause === 'link' || hop.cause === 'message' || hop.cause === 'causation')
      label.appendChild(el('span', 'cause', '[' + hop.cause + ']'));
    var sign = hop.start_offset_ms < 0 ? '-' : '+';
    var meta = [sign + ms(Math.abs(hop.start_offset_ms)), ms(hop.duration_ms)];
    if (hop.from_service && hop.from_service !== hop.service)
      meta.push('from ' + hop.from_service);
    if (hop.delivery_latency_ms !== null) meta.push('latency ' + ms(hop.delivery_latency_ms));
    if (hop.delivery_count > 1) meta.push('delivery #' + hop.delivery_count);
    if (hop.settlement) meta.push(hop.settlement);
    label.appendChild(el('span', 'meta', meta.join(' \u00b7 ')));
    var tip = [hop.name, 'subject ' + (hop.subject || hop.template),
      'trace ' + hop.trace_id, 'span ' + hop.span_id];
    if (hop.message_id) tip.push('message ' + hop.message_id);
    if (hop.error) {
      var text = hop.error.type + (hop.error.message ? ': ' + hop.error.message : '');
      label.appendChild(el('span', 'err', 'ERROR ' + text));
      tip.push('ERROR ' + text);
    }
    r.title = tip.join('\\n');
    var lane = el('div', 'lane');
    if (hop.delivery_latency_ms !== null && hop.delivery_latency_ms > 0) {
      var wait = el('div', 'wait');
      var from = pct(hop.start_offset_ms - hop.delivery_latency_ms);
      wait.style.left = from + '%';
      wait.style.width = (pct(hop.start_offset_ms) - from) + '%';
      lane.appendChild(wait);
    }
    var bar = el('div', 'bar ' + hop.operation + (hop.error ? ' failed' : ''));
    var left = pct(hop.start_offset_ms);
    bar.style.left = left + '%';
    bar.style.width = (pct(hop.start_offset_ms + hop.duration_ms) - left) + '%';
    lane.appendChild(bar);
    r.appendChild(label); r.appendChild(lane); root.appendChild(r);
    hop.children.forEach(function(child){ row(child, depth + 1); });
  }
  axis();
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
        f'<h1>{title}</h1><div class="summary">{summary}</div>{_LEGEND}'
        '<div class="axis" id="axis"></div><div id="timeline"></div>'
        f'<script type="application/json" id="flow-data">{payload}</script>'
        f"<script>{_SCRIPT}</script></body></html>\n"
    )
