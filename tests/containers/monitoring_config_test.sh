#!/usr/bin/env bash
# The docker-compose `monitoring` profile's configuration, checked without its images (they
# cannot be pulled where the tests run): promtool accepts deploy/prometheus/prometheus.yml, it
# scrapes the gateway, and the Grafana provisioning and dashboard files parse with the fields
# Grafana needs. That the dashboard's metrics exist is checked against a real scrape by
# compose_test.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
command -v promtool >/dev/null || { echo "promtool is missing: scripts/setup installs prometheus" >&2; exit 1; }
promtool check config "$root/deploy/prometheus/prometheus.yml"
python3 - "$root" <<'PY'
import json, pathlib, re, sys
root = pathlib.Path(sys.argv[1])
prometheus = (root / "deploy/prometheus/prometheus.yml").read_text()
assert '"gateway:8000"' in prometheus, "prometheus.yml does not scrape the gateway service"
for path in (root / "deploy/grafana/provisioning").rglob("*.yml"):
    text = path.read_text()
    assert text.startswith("apiVersion: 1\n"), f"{path}: not a Grafana provisioning file"
dashboard = json.loads((root / "deploy/grafana/dashboards/imgproc.json").read_text())
assert dashboard["uid"] and dashboard["title"] and dashboard["panels"], "dashboard incomplete"
uid = re.search(r"uid: (\S+)", (root / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text()).group(1)
for panel in dashboard["panels"]:
    assert panel["targets"], f"panel {panel['title']!r} has no query"
    for target in panel["targets"]:
        assert target["datasource"]["uid"] == uid, f"panel {panel['title']!r}: unknown data source"
        assert re.search(r"\b(caf|imgproc|process)_[a-z_]+", target["expr"]), target["expr"]
print(f"grafana: {len(dashboard['panels'])} panels, data source {uid}")
PY
