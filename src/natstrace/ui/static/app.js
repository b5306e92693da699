// natstrace ui: the whole console, no libraries. Every value that came from a span
// goes into the page through textContent or an SVG text node, never as markup.
'use strict';
(function () {
  var main = document.getElementById('main');
  var sourceBox = document.getElementById('source');
  var SVG = 'http://www.w3.org/2000/svg';
  var status = { generation: -1, jaeger: null };
  var query = '';
  var current = { view: null, redraw: null };

  // ---------------------------------------------------------------- helpers
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = String(text);
    return node;
  }
  function add(parent) {
    for (var i = 1; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined) continue;
      parent.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return parent;
  }
  function link(href, text, cls) {
    var a = el('a', cls, text); a.href = href; return a;
  }
  function jaegerLink(traceId) {
    if (!status.jaeger) return null;
    var a = link(status.jaeger.replace(/\/+$/, '') + '/trace/' + encodeURIComponent(traceId),
      'Jaeger ↗', 'jaeger');
    a.target = '_blank'; a.rel = 'noopener noreferrer';
    a.addEventListener('click', function (e) { e.stopPropagation(); });
    return a;
  }
  function ms(value) {
    if (value === null || value === undefined) return '';
    var a = Math.abs(value);
    if (a < 1) return (value * 1000).toFixed(0) + 'µs';
    if (a < 1000) return value.toFixed(1) + 'ms';
    return (value / 1000).toFixed(2) + 's';
  }
  function clock(unixNano) {
    var d = new Date(unixNano / 1e6);
    return d.toLocaleTimeString([], { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
  }
  function workflowHref(id, tab) {
    return '#/workflow/' + encodeURIComponent(id) + (tab ? '?view=' + tab : '');
  }
  function badge(cls, text) { return el('span', 'badge ' + cls, text); }
  function getJSON(url) {
    return fetch(url, { headers: { Accept: 'application/json' } }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body.error || ('HTTP ' + r.status));
        return body;
      });
    });
  }
  function fail(err) { main.replaceChildren(el('p', 'empty', 'Could not load: ' + err.message)); }
  var measureCtx = document.createElement('canvas').getContext('2d');
  function textWidth(text, font) { measureCtx.font = font; return measureCtx.measureText(text).width; }

  // ---------------------------------------------------------------- header and routing
  function refreshStatus() {
    return getJSON('/api/status').then(function (s) {
      var changed = s.generation !== status.generation;
      status = s;
      sourceBox.replaceChildren(s.source + ' · ' + s.workflows + ' workflows · ' + s.spans +
        ' spans · read ' + clock(s.loaded_unix_nano));
      if (s.error) add(sourceBox, ' · ', el('span', 'error', s.error));
      if (changed && current.redraw) current.redraw();
    }).catch(function (err) {
      sourceBox.replaceChildren(el('span', 'error', 'console unreachable: ' + err.message));
    });
  }

  function route() {
    var hash = location.hash.replace(/^#/, '') || '/';
    var path = hash.split('?')[0];
    var params = new URLSearchParams(hash.split('?')[1] || '');
    var view = 'workflows';
    current.redraw = null;
    if (path.indexOf('/workflow/') === 0) {
      view = 'workflow';
      var id = decodeURIComponent(path.slice('/workflow/'.length)), tab = params.get('view') || 'waterfall';
      // New spans redraw the workflow (it may still be running), unless a hop is open.
      current.redraw = function () {
        var open = document.getElementById('details');
        if (!open || open.hidden) showWorkflow(id, tab, true);
      };
      showWorkflow(id, tab);
    } else if (path === '/topology') {
      view = 'topology'; current.redraw = showTopology; showTopology();
    } else if (path === '/orphans') {
      view = 'orphans'; current.redraw = showOrphans; showOrphans();
    } else if (path === '/slow') {
      view = 'slow'; current.redraw = showSlow; showSlow();
    } else {
      showWorkflows();
    }
    current.view = view;
    document.querySelectorAll('nav a').forEach(function (a) {
      a.classList.toggle('active', a.dataset.view === (view === 'workflow' ? 'workflows' : view));
    });
  }

  // ---------------------------------------------------------------- workflows list
  function statusBadges(w) {
    var out = [badge(w.status, w.status)];
    if (w.redelivered) out.push(badge('redelivered', 'redelivered'));
    if (w.unconsumed) out.push(badge('unconsumed', 'unconsumed messages'));
    w.errors.forEach(function (e) { out.push(badge('error', '✗ ' + e)); });
    return out;
  }

  function showWorkflows() {
    var bar = el('div', 'searchbar');
    var input = el('input');
    input.id = 'search'; input.type = 'search'; input.value = query; input.autocomplete = 'off';
    input.placeholder = 'correlation ID, service, subject, error type — or service:orders error:Timeout status:failed';
    add(bar, input);
    ['failed', 'redelivered', 'unconsumed'].forEach(function (flag) {
      var b = el('button', query.indexOf('status:' + flag) >= 0 ? 'on' : '', flag);
      b.dataset.flag = flag;
      b.addEventListener('click', function () {
        var term = 'status:' + flag;
        query = query.indexOf(term) >= 0 ? query.replace(term, '').trim() : (query + ' ' + term).trim();
        input.value = query; b.classList.toggle('on'); load();
      });
      add(bar, b);
    });
    var info = el('div', 'summary');
    var table = el('table');
    table.id = 'workflows';
    main.replaceChildren(add(el('h1', null, 'Workflows')), bar, info, table);
    var timer = null;
    input.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(function () { query = input.value.trim(); load(); }, 150);
    });
    function load() {
      var asked = query;
      getJSON('/api/workflows?q=' + encodeURIComponent(asked)).then(function (data) {
        if (asked !== query || current.view !== 'workflows') return;
        info.textContent = data.total + ' workflow(s)' + (asked ? ' match' : '') +
          (data.total > data.shown ? ', the ' + data.shown + ' most recent shown' : '') + '.';
        var head = add(el('tr'), el('th', null, 'correlation ID'), el('th', null, 'started'),
          el('th', 'num', 'duration'), el('th', null, 'services'), el('th', 'num', 'hops'),
          el('th', null, 'status'));
        var rows = data.workflows.map(function (w) {
          var tr = el('tr', w.status === 'failed' ? 'failed' : '');
          tr.dataset.correlationId = w.correlation_id;
          add(tr, add(el('td', 'id'), link(workflowHref(w.correlation_id), w.correlation_id)),
            el('td', 'num', clock(w.start_unix_nano)), el('td', 'num', ms(w.duration_ms)),
            el('td', null, w.services.join(', ')), el('td', 'num', w.hops),
            add.apply(null, [el('td')].concat(statusBadges(w))));
          return tr;
        });
        table.replaceChildren.apply(table, [add(el('thead'), head), add.apply(null, [el('tbody')].concat(rows))]);
        if (!data.workflows.length) table.replaceChildren(add(el('tbody'), add(el('tr'), el('td', 'empty', asked ? 'No workflow matches.' : 'No workflows yet: waiting for spans.'))));
        main.dataset.loaded = String(data.shown);
      }).catch(fail);
    }
    current.redraw = load;
    load();
    input.focus();
  }

  // ---------------------------------------------------------------- one workflow
  function showWorkflow(id, tab, again) {
    if (!again) main.replaceChildren(el('p', 'empty', 'Loading ' + id + ' …'));
    getJSON('/api/workflow?id=' + encodeURIComponent(id)).then(function (flow) {
      if (current.view !== 'workflow') return;
      var head = add(el('div'), el('h1', null, 'workflow ' + flow.correlation_id));
      add(head, el('div', 'summary', flow.traces.length + ' trace(s) · ' + flow.services.length +
        ' service(s): ' + flow.services.join(', ') + ' · ' + flow.spans + ' span(s)' +
        (flow.errors ? ' · ' + flow.errors + ' failed' : '') + ' · ' + ms(flow.duration_ms)));
      var tabs = el('div', 'tabs');
      ['waterfall', 'sequence'].forEach(function (name) {
        var b = el('button', name === tab ? 'on' : '', name === 'waterfall' ? 'Waterfall' : 'Sequence diagram');
        b.dataset.tab = name;
        b.addEventListener('click', function () { location.hash = workflowHref(id, name); });
        add(tabs, b);
      });
      var body = el('div');
      var details = el('section'); details.id = 'details'; details.hidden = true;
      main.replaceChildren(head, tabs, body, details);
      function select(key, node) {
        document.querySelectorAll('.selected').forEach(function (n) { n.classList.remove('selected'); });
        if (node) node.classList.add('selected');
        showDetails(details, flow.details[key]);
      }
      if (tab === 'sequence') drawSequence(body, flow, select);
      else drawWaterfall(body, flow, select);
    }).catch(fail);
  }

  function showDetails(box, d) {
    if (!d) { box.hidden = true; return; }
    box.hidden = false;
    var rows = [['name', d.name], ['service', d.service], ['kind', d.kind], ['status', d.status +
      (d.status_message ? ': ' + d.status_message : '')], ['trace', d.trace_id], ['span', d.span_id],
      ['parent', d.parent_span_id || '']];
    Object.keys(d.attributes).sort().forEach(function (k) {
      var v = d.attributes[k];
      rows.push([k, typeof v === 'string' ? v : JSON.stringify(v)]);
    });
    d.events.forEach(function (e) {
      rows.push(['event ' + e.name, Object.keys(e.attributes).map(function (k) {
        return k + '=' + (typeof e.attributes[k] === 'string' ? e.attributes[k] : JSON.stringify(e.attributes[k]));
      }).join('  ')]);
    });
    d.links.forEach(function (l) { rows.push(['link', l.trace_id + ' / ' + l.span_id]); });
    var table = el('table');
    rows.forEach(function (r) { add(table, add(el('tr'), el('td', 'key', r[0]), el('td', 'val', r[1]))); });
    var close = el('button', 'plain close', 'Close');
    close.addEventListener('click', function () {
      box.hidden = true;
      document.querySelectorAll('.selected').forEach(function (n) { n.classList.remove('selected'); });
    });
    box.replaceChildren(close, add(el('h3', null, d.service + ': ' + d.name), jaegerLink(d.trace_id)), table);
    box.scrollIntoView({ block: 'nearest' });
  }

  function flatten(hops, depth, out) {
    hops.forEach(function (h) { out.push([h, depth]); flatten(h.children, depth + 1, out); });
    return out;
  }
  function niceStep(range) {
    var rough = range / 6, p = Math.pow(10, Math.floor(Math.log10(rough)));
    return [1, 2, 5, 10].map(function (m) { return m * p; }).find(function (s) { return s >= rough; });
  }
  function errorText(e) { return e ? (e.type || 'error') + (e.message ? ': ' + e.message : '') : ''; }

  function drawWaterfall(box, flow, select) {
    var rows = flatten(flow.hops, 0, []);
    var lo = 0, hi = Math.max(flow.duration_ms, 0.001);
    rows.forEach(function (r) { hi = Math.max(hi, r[0].start_offset_ms + r[0].duration_ms); });
    // A pull fetch may have waited long before the workflow began: show a little of
    // that wait and mark the bar as cut, instead of squeezing the workflow into a corner.
    rows.forEach(function (r) { lo = Math.min(lo, Math.max(r[0].start_offset_ms, -hi * 0.15)); });
    var range = Math.max(hi - lo, 0.001);
    function pct(v) { return ((v - lo) / range * 100) + '%'; }
    var step = niceStep(range), ticks = [];
    for (var t = Math.ceil(lo / step) * step; t <= hi + 1e-9; t += step) ticks.push(t);

    var legend = el('div', 'legend');
    [['send', 'send / request'], ['process', 'process (handling)'], ['receive', 'receive (pull fetch, waiting)'],
      ['failed', 'failed'], ['latency', 'delivery latency: sent → handling began'],
      ['cut', 'began earlier than shown (see its start offset)']].forEach(function (l) {
      add(legend, add(el('span'), el('span', 'sw ' + l[0]), l[1]));
    });
    add(legend, add(el('span'), badge('redelivery', 'delivery #2'), 'redelivered'),
      add(el('span'), badge('nak', 'nak'), badge('ack', 'ack'), 'settlement'),
      add(el('span'), badge('link', 'link'), 'reached through a span link (another trace)'),
      add(el('span'), 'click a row for its attributes'));

    var table = el('div', 'waterfall');
    table.id = 'waterfall';
    var axis = add(el('div', 'wrow axis'), el('div', 'wlabel muted', 'service · operation · subject  —  start, duration'));
    var axisLane = el('div', 'lane');
    ticks.forEach(function (t, i) {
      var tick = el('span', 'tick' + (i === 0 && t - lo < range * 0.04 ? ' first' : '') +
        (hi - t < range * 0.04 ? ' last' : ''), (t > 0 ? '+' : '') + ms(t));
      tick.style.left = pct(t);
      add(axisLane, tick);
    });
    add(table, add(axis, axisLane));

    rows.forEach(function (r) {
      var hop = r[0], depth = r[1];
      var row = el('div', 'wrow' + (hop.error ? ' failed' : ''));
      row.dataset.spanId = hop.span_id; row.dataset.service = hop.service;
      row.dataset.template = hop.template; row.dataset.operation = hop.operation;
      if (hop.delivery_count) row.dataset.deliveryCount = hop.delivery_count;
      var label = el('div', 'wlabel');
      label.style.paddingLeft = (8 + depth * 16) + 'px';
      add(label, el('span', 'svc', hop.service), el('span', 'op ' + hop.operation, hop.operation),
        el('span', 'tpl', hop.template));
      var meta = (hop.start_offset_ms < 0 ? '-' : '+') + ms(Math.abs(hop.start_offset_ms)) + ' · ' + ms(hop.duration_ms);
      if (hop.delivery_latency_ms !== null) meta += ' · latency ' + ms(hop.delivery_latency_ms);
      if (hop.from_service && hop.from_service !== hop.service) meta += ' · from ' + hop.from_service;
      add(label, el('span', 'meta', meta));
      if (hop.delivery_count > 1) add(label, ' ', badge('redelivery', 'delivery #' + hop.delivery_count));
      if (hop.settlement) add(label, ' ', badge(hop.settlement, hop.settlement));
      if (hop.cause === 'link') add(label, ' ', badge('link', 'link'));
      add(label, jaegerLink(hop.trace_id));
      if (hop.error) add(label, el('span', 'err', '✗ ' + errorText(hop.error)));
      var lane = el('div', 'lane');
      ticks.forEach(function (t) { var g = el('div', 'grid'); g.style.left = pct(t); add(lane, g); });
      if (hop.delivery_latency_ms !== null && hop.delivery_latency_ms > 0) {
        var wait = el('div', 'wait');
        wait.style.left = pct(hop.start_offset_ms - hop.delivery_latency_ms);
        wait.style.width = (hop.delivery_latency_ms / range * 100) + '%';
        add(lane, wait);
      }
      var cut = hop.start_offset_ms < lo;
      var bar = el('div', 'bar ' + hop.operation + (hop.error ? ' failed' : '') + (cut ? ' cut' : ''));
      var from = Math.max(hop.start_offset_ms, lo);
      bar.style.left = pct(from);
      bar.style.width = ((hop.start_offset_ms + hop.duration_ms - from) / range * 100) + '%';
      bar.title = hop.name + ' · ' + ms(hop.duration_ms) + (hop.error ? '\n' + errorText(hop.error) : '');
      add(lane, bar);
      add(row, label, lane);
      row.addEventListener('click', function () { select(hop.trace_id + ':' + hop.span_id, row); });
      add(table, row);
    });
    box.replaceChildren(legend, table);
    table.dataset.rendered = String(rows.length);
  }

  function drawSequence(box, flow, select) {
    var seq = flow.sequence, P = seq.participants;
    var font = '600 12px system-ui, sans-serif', bold = '600 13px system-ui, sans-serif';
    var widest = 120;
    P.forEach(function (p) { widest = Math.max(widest, textWidth(p, bold) + 30); });
    seq.arrows.forEach(function (a) {
      var span = Math.abs(P.indexOf(a.target) - P.indexOf(a.source)) || 1;
      widest = Math.max(widest, (textWidth(a.label, font) + 24) / span);
    });
    var gutter = 70, top = 56;
    // As wide as the labels need; wider, up to 220 px, when the page has the room.
    var room = (box.clientWidth || main.clientWidth) - gutter - 24;
    var col = Math.min(380, Math.max(widest, Math.min(room / P.length, 220)));
    function x(name) { return gutter + col / 2 + P.indexOf(name) * col; }
    var root = svg('svg', { 'font-size': 13, role: 'img' });
    root.id = 'sequence';
    add(root, add(svg('defs'),
      add(svg('marker', { id: 'head', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: 'auto-start-reverse' }),
        svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: 'context-stroke' })),
      add(svg('marker', { id: 'open', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: 'auto-start-reverse' }),
        svg('path', { d: 'M0,0 L10,5 L0,10', fill: 'none', stroke: 'context-stroke', 'stroke-width': 1.5 }))));
    var lifelines = svg('g'), arrows = svg('g');
    add(root, lifelines, arrows);
    var y = top + 26;
    seq.arrows.forEach(function (a, i) {
      var g = svg('g', { class: 'arrow' });
      g.dataset.source = a.source; g.dataset.target = a.target; g.dataset.kind = a.kind;
      g.dataset.template = a.template; g.dataset.deliveryCount = a.delivery_count;
      if (a.error) g.dataset.failed = 'true';
      var color = a.error ? '#c62828' : a.kind === 'unconsumed' ? '#8a94a6' : a.kind === 'reply' ? '#5b6475' : '#1e63b5';
      var x1 = x(a.source), x2 = x(a.target), lineY = y + 20;
      var height = 34 + (a.error ? 18 : 0);
      add(g, svg('rect', { class: 'hit', x: 0, y: y - 2, width: gutter + col * P.length, height: height, fill: 'transparent' }));
      add(g, svg('text', { x: 8, y: lineY + 4, fill: '#5b6475', 'font-size': 12 }, (a.offset_ms < 0 ? '-' : '+') + ms(Math.abs(a.offset_ms))));
      var attrs = { fill: 'none', stroke: color, 'stroke-width': 1.6, 'marker-end': a.kind === 'message' || a.kind === 'request' ? 'url(#head)' : 'url(#open)' };
      if (a.kind === 'reply' || a.kind === 'unconsumed') attrs['stroke-dasharray'] = '6,4';
      if (x1 === x2) {
        attrs.d = 'M' + x1 + ',' + (lineY - 8) + ' h40 v16 h-40';
        add(g, svg('path', attrs));
        add(g, svg('text', { x: x1 + 46, y: lineY + 4, fill: color }, a.label));
      } else {
        var dir = x2 > x1 ? 1 : -1;
        attrs.d = 'M' + (x1 + dir * 4) + ',' + lineY + ' L' + (x2 - dir * 4) + ',' + lineY;
        add(g, svg('path', attrs));
        add(g, svg('text', { x: (x1 + x2) / 2, y: lineY - 6, 'text-anchor': 'middle', fill: color, 'font-size': 12, 'font-weight': a.kind === 'reply' ? 400 : 600 }, a.label));
        if (a.error) {
          add(g, svg('path', { d: 'M' + (x2 - dir * 14) + ',' + (lineY - 6) + ' l10,12 m0,-12 l-10,12', stroke: color, 'stroke-width': 2 }));
        }
      }
      if (a.error) {
        var ex = Math.min(x1, x2) + (x1 === x2 ? 0 : 6);
        add(g, svg('text', { class: 'error', x: ex, y: lineY + 17, fill: '#c62828', 'font-size': 12 }, '✗ ' + a.error));
      }
      var key = a.delivery || a.send;
      g.addEventListener('click', function () { select(key, g); });
      add(arrows, g);
      y += height;
    });
    var bottom = y + 16;
    P.forEach(function (p) {
      var cx = x(p), w = Math.max(textWidth(p, bold) + 24, 90);
      var nobody = p === '(nobody)' || p === '(untraced)';
      add(lifelines, svg('line', { x1: cx, y1: top, x2: cx, y2: bottom, stroke: '#b9c2d0', 'stroke-dasharray': '4,4' }));
      var head = svg('g', { class: 'participant' });
      head.dataset.name = p;
      add(head, svg('rect', { x: cx - w / 2, y: 16, width: w, height: 32, rx: 6, fill: nobody ? '#f5f5f5' : '#e3f2fd', stroke: '#1565c0', 'stroke-dasharray': nobody ? '4,3' : 'none' }),
        svg('text', { x: cx, y: 37, 'text-anchor': 'middle', 'font-weight': 600 }, p));
      add(lifelines, head);
    });
    var legend = el('div', 'legend');
    add(legend, el('span', null, 'solid arrow: message delivered (one per delivery) · dashed: reply, or a message nobody processed · red with ✗: the handling failed (error below the arrow) · [link]: reached through a span link · click an arrow for its attributes'));
    var scroll = add(el('div', 'scroll seq'), root);
    box.replaceChildren(legend, scroll);
    // Size the canvas to what was drawn, labels included, so nothing is cut.
    var bb = root.getBBox();
    root.setAttribute('width', Math.ceil(Math.max(bb.x + bb.width, 0) + 20));
    root.setAttribute('height', Math.ceil(bb.y + bb.height + 16));
    root.dataset.rendered = String(seq.arrows.length);
  }

  // ---------------------------------------------------------------- topology, orphans, slow
  function numberCell(text) { return el('td', 'num', text); }

  function showTopology() {
    getJSON('/api/topology').then(function (data) {
      if (current.view !== 'topology') return;
      var doc = new DOMParser().parseFromString(data.svg, 'image/svg+xml');
      var picture = document.importNode(doc.documentElement, true);
      picture.id = 'topology';
      picture.classList.add('topology');
      var table = el('table');
      add(table, add(el('tr'), el('th', null, 'from'), el('th', null, 'subject'), el('th', null, 'to'),
        el('th', 'num', 'rate'), el('th', 'num', 'messages'), el('th', 'num', 'errors'),
        el('th', 'num', 'latency p50'), el('th', 'num', 'latency p95'), el('th', 'num', 'handling p95')));
      data.edges.forEach(function (e) {
        var tr = el('tr', e.errors ? 'failed' : '');
        add(tr, el('td', null, e.producer || '(untraced)'), el('td', null, e.template), el('td', null, e.consumer || '(nobody)'),
          numberCell(e.rate_per_second + '/s'), numberCell(e.messages),
          numberCell(e.deliveries ? e.errors + ' (' + (e.error_ratio * 100).toFixed(0) + '%)' : ''),
          numberCell(ms(e.latency_p50_ms)), numberCell(ms(e.latency_p95_ms)), numberCell(ms(e.duration_p95_ms)));
        add(table, tr);
      });
      var natural = [Number(picture.getAttribute('width')), Number(picture.getAttribute('height'))];
      var room = main.clientWidth - 2;
      var fit = el('button', 'plain', 'Fit to window');
      function size(fitted) {
        var scale = fitted ? Math.min(1, room / natural[0]) : 1;
        picture.setAttribute('width', Math.round(natural[0] * scale));
        picture.setAttribute('height', Math.round(natural[1] * scale));
        fit.textContent = fitted ? 'Actual size' : 'Fit to window';
        fit.dataset.fitted = String(fitted);
      }
      fit.addEventListener('click', function () { size(fit.dataset.fitted !== 'true'); });
      // Fitted by default unless that would shrink the text below easy reading.
      size(room / natural[0] >= 0.8);
      main.replaceChildren(el('h1', null, 'Topology'),
        add(el('div', 'summary', data.services.length + ' services, ' + data.edges.length + ' edges over ' + data.seconds + ' s: service → subject → service; red: deliveries failed, dashed: never processed '), natural[0] > room ? fit : null),
        add(el('div', 'scroll'), picture), el('h2', null, 'Edges'), table);
    }).catch(fail);
  }

  function showOrphans() {
    getJSON('/api/orphans').then(function (data) {
      if (current.view !== 'orphans') return;
      var table = el('table');
      table.id = 'orphans';
      add(table, add(el('tr'), el('th', null, 'service'), el('th', null, 'subject'), el('th', 'num', 'messages'),
        el('th', null, 'first'), el('th', null, 'last'), el('th', null, 'for example')));
      data.orphans.forEach(function (o) {
        add(table, add(el('tr'), el('td', null, o.service), el('td', null, o.template), numberCell(o.count),
          el('td', null, clock(o.first_unix_nano)), el('td', null, clock(o.last_unix_nano)),
          add(el('td', 'id'), o.sample_correlation_id ? link(workflowHref(o.sample_correlation_id), o.sample_correlation_id) : o.sample_trace_id,
            ' ', jaegerLink(o.sample_trace_id))));
      });
      var parts = [el('h1', null, 'Orphans: sent, never processed'),
        el('div', 'summary', data.sends_checked + ' sends checked' + (data.grace_seconds ? '; the last ' + data.grace_seconds.toFixed(1) + ' s not judged yet (may still be in flight)' : '') + '.'),
        data.orphans.length ? table : el('p', 'empty', 'Every send was processed.')];
      if (data.quiet_subscriptions.length) {
        var quiet = el('table');
        add(quiet, add(el('tr'), el('th', null, 'service'), el('th', null, 'subject'), el('th', null, 'last seen')));
        data.quiet_subscriptions.forEach(function (q) {
          add(quiet, add(el('tr'), el('td', null, q.service), el('td', null, q.template), el('td', null, clock(q.last_unix_nano))));
        });
        parts.push(el('h2', null, 'Quiet subscriptions'), quiet);
      }
      parts.push(el('p', 'note', data.note));
      main.replaceChildren.apply(main, parts);
    }).catch(fail);
  }

  function hopTable(hops, measure) {
    var table = el('table');
    add(table, add(el('tr'), el('th', 'num', measure === 'duration_ms' ? 'handling' : 'latency'), el('th', null, 'service'),
      el('th', null, 'subject'), el('th', null, 'from'), el('th', 'num', 'delivery'), el('th', null, 'workflow')));
    hops.forEach(function (h) {
      var cell = el('td', 'id');
      if (h.correlation_id) add(cell, link(workflowHref(h.correlation_id), h.correlation_id), ' ');
      add(cell, jaegerLink(h.trace_id));
      add(table, add(el('tr', h.failed ? 'failed' : ''), numberCell(ms(h[measure])), el('td', null, h.service),
        el('td', null, h.template), el('td', null, h.from_service || ''), numberCell('#' + h.delivery_count), cell));
    });
    return table;
  }

  function showSlow() {
    getJSON('/api/slow').then(function (data) {
      if (current.view !== 'slow') return;
      main.replaceChildren(el('h1', null, 'Slow hops'), el('div', 'summary', data.hops_checked + ' deliveries checked.'),
        el('h2', null, 'Longest handling'), hopTable(data.slowest, 'duration_ms'),
        el('h2', null, 'Longest delivery latency (sent → handling began)'), hopTable(data.longest_latency, 'delivery_latency_ms'));
    }).catch(fail);
  }

  window.addEventListener('hashchange', route);
  refreshStatus().then(route);
  setInterval(refreshStatus, 2000);
})();
