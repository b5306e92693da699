"""``./dev`` as root must not stop processes it did not start."""

from __future__ import annotations

import re
from pathlib import Path

DEV = Path(__file__).parents[1] / "dev"


def test_dev_never_stops_a_process_by_name() -> None:
    # A system Prometheus someone runs on purpose has the same process name as the
    # one Debian's package starts on install; only the package's service is stopped.
    commands = [line for line in DEV.read_text().splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in commands if re.search(r"\b(pkill|killall)\b", line)]
    stops = [line for line in commands if "prometheus" in line and "stop" in line]
    assert stops and all(
        "prometheus.service" in line or "service prometheus" in line for line in stops
    )
