"""promtool on the Prometheus config and rules, and the alert unit tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from stack_support import PROMETHEUS_DIR, RULE_FILES

ALERT_TESTS = Path(__file__).parent / "promtool" / "alerts_test.yml"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def test_prometheus_config_is_valid(promtool: str) -> None:
    result = run(promtool, "check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    # The config's rule_files glob must find the rules, not silently match nothing.
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in result.stdout


def test_rules_are_valid(promtool: str) -> None:
    result = run(promtool, "check", "rules", *map(str, RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_unit_tests_pass(promtool: str) -> None:
    result = run(promtool, "test", "rules", str(ALERT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_tested_firing_and_silent() -> None:
    alerts = {
        rule["alert"]
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    assert len(alerts) >= 6
    cases = [
        case
        for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    ]
    fires = {c["alertname"] for c in cases if c["exp_alerts"]}
    silent = {c["alertname"] for c in cases if not c["exp_alerts"]}
    assert alerts - fires == set(), "alerts with no test where they fire"
    assert alerts - silent == set(), "alerts with no test where they stay silent"


def test_alert_unit_tests_can_fail(promtool: str, tmp_path: Path) -> None:
    # Guard against a test file that passes whatever the rules say: with every
    # threshold removed, alerts fire where the tests expect silence.
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    for path in RULE_FILES:
        doc = yaml.safe_load(path.read_text())
        for group in doc["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    rule["expr"] = rule["expr"].rsplit(">", 1)[0] + "> -1"
                    rule["for"] = "0m"
        (rules_dir / path.name).write_text(yaml.safe_dump(doc))
    tests = yaml.safe_load(ALERT_TESTS.read_text())
    tests["rule_files"] = [str(rules_dir / p.name) for p in RULE_FILES]
    broken = tmp_path / "alerts_test.yml"
    broken.write_text(yaml.safe_dump(tests))
    result = run(promtool, "test", "rules", str(broken))
    assert result.returncode != 0
