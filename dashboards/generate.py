"""Generate natstrace's Grafana dashboards from code.

    python dashboards/generate.py          rewrite the JSON files next to this script

The JSON is checked in so Grafana can provision it without Python; the test suite
regenerates it and fails when the two differ, so edit the code (overview.py,
service.py, and the building blocks in panels.py), never the JSON.
Queries use only the metric names in README's metric reference and the recording
rules in collector-config/prometheus/rules.
"""

from __future__ import annotations

import json
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from overview import overview
from service import service_drilldown

HERE = Path(__file__).resolve().parent


DASHBOARDS = {
    "natstrace-overview.json": overview,
    "natstrace-service.json": service_drilldown,
}


def render(board: dashboard.Dashboard) -> str:
    return json.dumps(board.build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def generate() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {name: render(build()) for name, build in DASHBOARDS.items()}


def main() -> None:
    for name, text in generate().items():
        (HERE / name).write_text(text)
        print(f"wrote dashboards/{name}")


if __name__ == "__main__":
    main()
