"""Readers for the deployment files, and the check that a command line is a real `skserve` one."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILES = {"api": ROOT / "Dockerfile.api", "worker": ROOT / "Dockerfile.worker"}
COMPOSE_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[:?-][^}]*)?\}")


def load_compose() -> dict[str, Any]:
    """docker-compose.yml as plain data (YAML anchors and merge keys resolved)."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


def compose_variables() -> set[str]:
    """Every ${VAR} the compose file substitutes."""
    return set(COMPOSE_VARIABLE.findall(COMPOSE_FILE.read_text()))


@dataclass
class EnvExample:
    """The assignments in .env.example and whether each has a comment right above it."""

    values: dict[str, str] = field(default_factory=dict)
    undocumented: list[str] = field(default_factory=list)


def read_env_example(path: Path = ENV_EXAMPLE) -> EnvExample:
    """Parse `NAME=value` lines; a name counts as documented when a comment line precedes it."""
    result = EnvExample()
    previous = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            result.values[name.strip()] = value.strip()
            if not previous.startswith("#"):
                result.undocumented.append(name.strip())
        if line:
            previous = line
    return result


@dataclass
class Stage:
    """One build stage of a Dockerfile: its base and its instructions in order."""

    name: str | None
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


def read_dockerfile(path: Path) -> list[Stage]:
    """The stages of a Dockerfile (continuation lines joined, comments dropped)."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    stages: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "FROM":
            parts = re.split(r"\s+as\s+", rest, flags=re.IGNORECASE)
            stages.append(Stage(parts[1] if len(parts) > 1 else None, parts[0]))
        elif stages:  # ARGs before the first FROM only parameterise the FROM lines
            stages[-1].instructions.append((keyword, rest))
    return stages


def stage_chain(stages: list[Stage], target: str | None = None) -> list[Stage]:
    """The stages a target is built from, base first (default target: the last stage)."""
    by_name = {stage.name: stage for stage in stages if stage.name}
    stage = by_name[target] if target else stages[-1]
    chain = [stage]
    while stage.base in by_name:
        stage = by_name[stage.base]
        chain.insert(0, stage)
    return chain


def effective(stages: list[Stage], keyword: str, target: str | None = None) -> str | None:
    """The last `keyword` instruction (CMD, USER, ...) a target inherits or sets."""
    found = None
    for stage in stage_chain(stages, target):
        for instruction, rest in stage.instructions:
            if instruction == keyword:
                found = rest
    return found


def exec_form(rest: str) -> list[str]:
    """A CMD/ENTRYPOINT argument in exec (JSON array) form; fails on shell form."""
    assert rest.startswith("["), f"not exec form (a JSON array): {rest}"
    argv = json.loads(rest)
    assert isinstance(argv, list) and all(isinstance(word, str) for word in argv)
    return argv


def resolve_skserve(argv: list[str]) -> tuple[click.Command, list[str], list[str]]:
    """(command, subcommand path, remaining args) for `skserve ...`, through the real CLI."""
    from skserve.cli import main

    assert argv and argv[0] == "skserve", f"not a skserve command: {argv}"
    command: click.Command = main
    path: list[str] = []
    rest = list(argv[1:])
    while isinstance(command, click.Group):
        assert rest, f"`skserve {' '.join(path)}` needs a subcommand"
        name = rest.pop(0)
        with click.Context(command, info_name=" ".join(["skserve", *path])) as ctx:
            try:
                sub = command.get_command(ctx, name)
            except (ImportError, AttributeError) as exc:
                message = f"`skserve {' '.join([*path, name])}` fails to load: {exc}"
                raise AssertionError(message) from exc
        assert sub is not None, f"`skserve {' '.join([*path, name])}` is not a skserve command"
        command, path = sub, [*path, name]
    return command, path, rest
