"""Debian's headless Chromium for the page tests: load a page, dump its DOM, shoot it.

To measure a page, the tests inject their own script into a copy of it: it reads
the layout the browser computed and writes it into the DOM as JSON, which
``--dump-dom`` hands back. The page under test is otherwise unchanged.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# For each hop row: what it shows (the text a reader sees without hovering, its
# tooltip, its bars), and every element whose text is cut: a box narrower than its
# content, or a box reaching outside the window.
_MEASURE = """
<script>
(function(){
  var width = document.documentElement.clientWidth;
  var cut = [];
  document.querySelectorAll('.label, .label *, .legend, .legend *, .axis *').forEach(function(e){
    var box = e.getBoundingClientRect();
    var block = getComputedStyle(e).display !== 'inline';
    if ((block && e.scrollWidth > e.clientWidth + 1) || box.left < -1 || box.right > width + 1)
      cut.push(e.className + ': ' + e.textContent);
  });
  function rect(e){ var b = e.getBoundingClientRect(); return [b.left, b.width]; }
  var rows = Array.prototype.map.call(document.querySelectorAll('#timeline .hop'), function(r){
    return {service: r.dataset.service, template: r.dataset.template,
      operation: r.dataset.operation, text: r.querySelector('.label').innerText,
      title: r.title, lane: rect(r.querySelector('.lane')),
      bar: rect(r.querySelector('.bar'))};
  });
  var out = document.createElement('pre'); out.id = 'measured';
  out.textContent = JSON.stringify({
    rows: rows, cut: cut, scroll: document.documentElement.scrollWidth, width: width,
    ticks: Array.prototype.map.call(document.querySelectorAll('.tick'),
      function(t){ return t.textContent; }),
    legend: (document.getElementById('legend') || {}).innerText || ''});
  document.body.appendChild(out);
})();
</script>
"""


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with ``args``; raises if it fails."""
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", *args],
        capture_output=True,
        text=True,
        timeout=45,
        check=True,
    )


def measure_page(page: str, directory: Path, width: int = 1400) -> dict[str, Any]:
    """Load ``page`` (HTML text) at ``width`` pixels, screenshot it into ``directory``
    (``page.png``), and return what the measuring script found."""
    measured = directory / "measured.html"
    measured.write_text(page.replace("</body>", _MEASURE + "</body>"))
    size = f"--window-size={width},1000"
    chromium(f"--screenshot={directory / 'page.png'}", size, measured.as_uri())
    dom = chromium("--dump-dom", size, measured.as_uri()).stdout
    found = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)
    assert found, "the measuring script did not run"
    return json.loads(html.unescape(found.group(1)))  # type: ignore[no-any-return]
