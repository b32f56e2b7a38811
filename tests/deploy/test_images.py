"""The Dockerfiles: one pinned Python and lock for every image, non-root, real skserve CMDs."""

from __future__ import annotations

import re
import sys

import pytest
from click.testing import CliRunner

from tests.deploy.files import (
    DOCKERFILES,
    ROOT,
    effective,
    exec_form,
    read_dockerfile,
    resolve_skserve,
    stage_chain,
)

EXPECTED_CMD = {"api": ["skserve", "api"], "worker": ["skserve", "worker"]}
ARG_DEFAULT = re.compile(r"^ARG\s+(\w+)=(\S+)", re.MULTILINE)
SOURCE_DIRS = ("api", "db", "inference", "settings", "skserve", "trainer", "worker")


def base_images(name: str) -> set[str]:
    """External images (not earlier stages) a Dockerfile builds FROM."""
    stages = read_dockerfile(DOCKERFILES[name])
    names = {stage.name for stage in stages}
    defaults = dict(ARG_DEFAULT.findall(DOCKERFILES[name].read_text()))
    bases = {stage.base for stage in stages if stage.base not in names}
    return {re.sub(r"\$\{(\w+)\}", lambda m: defaults[m[1]], base) for base in bases}


def test_every_image_uses_one_python_tag_matching_this_python():
    tags = base_images("api") | base_images("worker")
    assert len(tags) == 1, f"images must share one base tag (cloudpickle): {tags}"
    (tag,) = tags
    match = re.fullmatch(r"python:(\d+)\.(\d+)(?:\.\d+)?-slim(?:-\w+)?", tag)
    assert match, f"expected a pinned python:X.Y[.Z]-slim tag, got {tag}"
    # Artifacts trained natively must load in the containers and the other way round.
    assert (int(match[1]), int(match[2])) == sys.version_info[:2]


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_dependencies_come_from_the_lock_before_the_source(name):
    stages = read_dockerfile(DOCKERFILES[name])
    build = stages[0].instructions
    runs = [i for i, (kw, rest) in enumerate(build) if kw == "RUN" and "pip install" in rest]
    runs = [i for i, (kw, rest) in enumerate(build) if kw == "RUN" and "pip-install.sh" in rest]
    lock = next(i for i in runs if "-r requirements.lock" in build[i][1])
    project = next(i for i in runs if "--no-deps" in build[i][1])
    first_source = min(
        i for i, (kw, rest) in enumerate(build) if kw == "COPY" and rest.split()[0] in SOURCE_DIRS
    )
    assert lock < first_source < project


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_multi_stage_runtime_copies_only_the_venv(name):
    stages = read_dockerfile(DOCKERFILES[name])
    chain = stage_chain(stages)
    assert len(stages) >= 2 and chain[0] is not stages[0], "runtime must not be the build stage"
    copies = [rest for stage in chain for kw, rest in stage.instructions if kw == "COPY"]
    assert any(rest.startswith(f"--from={stages[0].name} ") for rest in copies)
    assert not any(rest.split()[0] in SOURCE_DIRS for rest in copies)


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_images_run_as_a_fixed_non_root_uid(name):
    user = effective(read_dockerfile(DOCKERFILES[name]), "USER")
    assert user is not None
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, f"USER must be a fixed numeric uid: {user}"


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_cmd_is_the_native_skserve_command(name):
    stages = read_dockerfile(DOCKERFILES[name])
    entrypoint = exec_form(effective(stages, "ENTRYPOINT") or "[]")
    argv = entrypoint + exec_form(effective(stages, "CMD") or "")
    assert argv == EXPECTED_CMD[name]
    command, path, args = resolve_skserve(argv)
    command.make_context(" ".join(["skserve", *path]), list(args))
    from skserve.cli import main

    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output


def test_dockerignore_keeps_local_state_out_of_the_context():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "var", ".env", "**/__pycache__"} <= ignored
    assert "!.env.example" in ignored
