"""The deployment files name only what exists: every `frontdesk …` command line in the
Dockerfile and deploy/compose.yml parses with the real click CLI (bot/cli.py), every
handler in the SAM template is a function of the package, and every variable they set is
one Frontdesk reads.
"""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

import click
import pytest
import yaml

from bot import cli
from bot.settings import Settings
from tests.conftest import ROOT

DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "deploy" / "compose.yml"
SAM_TEMPLATE = ROOT / "deploy" / "lambda" / "template.yaml"
LAMBDA_DOCKERFILE = ROOT / "deploy" / "lambda" / "Dockerfile"
# Read outside Settings: by bot/settings_files.py, bot/aws_secrets.py and uvicorn.
OTHER_VARIABLES = {"FRONTDESK_SECRETS_DIR", "FRONTDESK_SECRETS_ARN", "FORWARDED_ALLOW_IPS"}


def check_command(args: list[str]) -> None:
    """Parse `frontdesk ARGS` as click would run it, without running it: an unknown
    command, an unknown option or a bad value raises click's usage error.
    """
    command: click.Command = cli.main
    context: click.Context | None = None
    name = "frontdesk"
    while isinstance(command, click.Group):
        context = click.Context(command, info_name=name, parent=context)
        resolved, sub, args = command.resolve_command(context, args)
        if sub is None or resolved is None:
            raise click.UsageError(f"no command in {args}")
        name, command = resolved, sub
    command.make_context(name, list(args), parent=context)


class CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub, !GetAtt, …) read as plain values."""


def _any_tag(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    assert isinstance(node, yaml.MappingNode)
    return loader.construct_mapping(node, deep=True)


CloudFormationLoader.add_multi_constructor("!", _any_tag)


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text()))


def sam() -> dict[str, Any]:
    return dict(yaml.load(SAM_TEMPLATE.read_text(), Loader=CloudFormationLoader))


def frontdesk_services() -> dict[str, dict[str, Any]]:
    """The compose services that run the Frontdesk image (its entry point is `frontdesk`)."""
    return {
        name: service
        for name, service in compose()["services"].items()
        if "FRONTDESK_IMAGE" in str(service.get("image", ""))
    }


def dockerfile_instruction(keyword: str) -> list[str]:
    match = re.search(rf"^{keyword}\s+(\[.*\])\s*$", DOCKERFILE.read_text(), re.MULTILINE)
    assert match, f"no exec-form {keyword} in the Dockerfile"
    return list(json.loads(match.group(1)))


def known_variable(name: str) -> bool:
    fields = {field.upper() for field in Settings.model_fields}
    return name in fields or name in OTHER_VARIABLES or name.removesuffix("_FILE") in fields


# -- the checker itself --------------------------------------------------------------------


def test_the_checker_accepts_real_command_lines() -> None:
    check_command(["serve", "--no-scheduler", "--forwarded-allow-ips", "*"])
    check_command(["db", "upgrade"])
    check_command(["worker", "--metrics-port", "9100"])


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--no-sheduler"],
        ["db", "migrate"],
        ["work"],
        ["worker", "--metrics-port", "none"],
    ],
)
def test_the_checker_refuses_what_does_not_exist(args: list[str]) -> None:
    with pytest.raises(click.UsageError):
        check_command(args)


# -- Dockerfile ----------------------------------------------------------------------------


def test_the_image_runs_frontdesk_serve() -> None:
    assert dockerfile_instruction("ENTRYPOINT") == ["frontdesk"]
    command = dockerfile_instruction("CMD")
    assert command[0] == "serve"
    check_command(command)


def test_the_image_checks_healthz_as_an_unprivileged_user() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", text, re.MULTILINE)
    user = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert user and not user[-1].startswith(("0", "root"))


# -- compose ---------------------------------------------------------------------------------


def test_compose_runs_the_documented_topology() -> None:
    services = frontdesk_services()
    commands = {name: service["command"] for name, service in services.items()}
    assert commands["migrate"] == ["db", "upgrade"]
    assert commands["app"][0] == "serve"
    assert "--no-scheduler" in commands["app"]
    assert services["app"]["deploy"]["replicas"] == 2
    assert commands["worker"][0] == "worker"
    for name in ("app", "worker"):
        depends = services[name]["depends_on"]["migrate"]
        assert depends["condition"] == "service_completed_successfully"
    everything = compose()["services"]
    assert {"db", "proxy"} <= set(everything)
    for name, service in everything.items():
        assert service.get("restart"), f"{name} has no restart policy"
        if name != "migrate":
            assert "healthcheck" in service or name == "proxy", f"{name} has no health check"


def test_every_frontdesk_command_line_in_compose_parses() -> None:
    services = frontdesk_services()
    assert len(services) == 3
    for name, service in services.items():
        command = service["command"]
        assert isinstance(command, list), f"{name}: use the exec form"
        try:
            check_command([str(arg) for arg in command])
        except click.UsageError as exc:
            pytest.fail(f"compose service {name}: frontdesk {' '.join(command)}: {exc}")


def test_compose_sets_only_variables_frontdesk_reads() -> None:
    for name, service in frontdesk_services().items():
        unknown = [v for v in service.get("environment", {}) if not known_variable(v)]
        assert not unknown, f"compose service {name} sets unknown variables {unknown}"


def test_the_proxy_config_forwards_to_the_app_replicas() -> None:
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "name app" in caddyfile
    assert "port 3000" in caddyfile
    assert "health_uri /healthz" in caddyfile


# -- SAM template ----------------------------------------------------------------------------


def test_every_lambda_handler_in_the_template_exists() -> None:
    template = sam()
    functions = {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    for props in functions.values():
        assert props["PackageType"] == "Image"
    handlers = {name: props["ImageConfig"]["Command"][0] for name, props in functions.items()}
    assert handlers == {
        "HttpFunction": "bot.lambda_handler.http_handler",
        "TickFunction": "bot.lambda_handler.tick_handler",
        "MigrateFunction": "bot.lambda_handler.migrate_handler",
    }
    for handler in handlers.values():
        module, _, attribute = handler.rpartition(".")
        assert callable(getattr(importlib.import_module(module), attribute))


def test_the_template_schedules_the_tick_and_exposes_the_http_function() -> None:
    resources = sam()["Resources"]
    tick = resources["TickFunction"]["Properties"]["Events"]["Tick"]
    assert tick["Type"] == "Schedule"
    assert resources["HttpFunction"]["Properties"]["FunctionUrlConfig"]["AuthType"] == "NONE"
    metadata = resources["HttpFunction"]["Metadata"]
    dockerfile = SAM_TEMPLATE.parent / metadata["DockerContext"] / metadata["Dockerfile"]
    assert dockerfile.resolve() == LAMBDA_DOCKERFILE.resolve()


def test_the_lambda_image_holds_the_handlers_and_the_config() -> None:
    text = LAMBDA_DOCKERFILE.read_text()
    assert "FROM public.ecr.aws/lambda/python:3.11" in text
    assert 'CMD ["bot.lambda_handler.http_handler"]' in text
    config = re.search(r"^COPY (\S+) \$\{LAMBDA_TASK_ROOT\}/frontdesk.toml", text, re.MULTILINE)
    assert config and (ROOT / config.group(1)).is_file()
    variables = sam()["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["FRONTDESK_CONFIG"] == "/var/task/frontdesk.toml"
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert f"!{config.group(1)}" in ignored, "the build context must keep the config"


def test_the_template_sets_only_variables_frontdesk_reads() -> None:
    template = sam()
    variables = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    for resource in template["Resources"].values():
        environment = resource.get("Properties", {}).get("Environment", {})
        variables.update(environment.get("Variables", {}))
    unknown = [name for name in variables if not known_variable(name)]
    assert not unknown, f"the SAM template sets unknown variables {unknown}"
    assert "FRONTDESK_SECRETS_ARN" in variables


def test_the_config_baked_into_the_lambda_image_is_valid() -> None:
    from bot.config import load_config

    config = load_config(SAM_TEMPLATE.parent / "frontdesk.toml")
    assert config.reps
