"""The execution environment's definition builds a context, and the project's ansible.cfg is fit for a controller."""

import configparser
import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from ansible_builder.ee_schema import validate_schema

REPO = Path(__file__).resolve().parents[3]
EE = REPO / "ee" / "execution-environment.yml"
GALAXY = yaml.safe_load((REPO / "galaxy.yml").read_text())
TARBALL = f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"
SPEC = importlib.util.spec_from_file_location("awxjob", REPO / "lab" / "awxjob.py")
awxjob = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(awxjob)


def pins(path):
    """name -> the whole requirement line, for the pinned lines of a requirements file."""
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return {line.split("==")[0].lower(): line for line in lines if "==" in line}


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    """The collection built from this checkout, as `./dev build` builds it."""
    return awxjob.build_collection(REPO, tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def context(tmp_path_factory, tarball):
    """`ansible-builder create` on a copy of the definition, with the built collection where it looks for it."""
    base = tmp_path_factory.mktemp("ee")
    project = base / "project"
    shutil.copytree(REPO / "ee", project / "ee")
    shutil.copytree(REPO / "requirements", project / "requirements")
    (project / ".cache" / "dist").mkdir(parents=True)
    shutil.copy(tarball, project / ".cache" / "dist")
    subprocess.run(
        ["ansible-builder", "create", "-f", str(project / "ee" / "execution-environment.yml"), "-c", str(base / "ctx")],
        check=True,
        capture_output=True,
    )
    return base / "ctx"


def test_the_definition_is_valid_ansible_builder_v3():
    definition = yaml.safe_load(EE.read_text())
    assert definition["version"] == 3
    validate_schema(definition)


def test_create_lays_out_the_build_context(context):
    containerfile = (context / "Containerfile").read_text()
    assert (context / "_build" / "collections" / TARBALL).is_file()
    assert 'ARG PKGMGR="/usr/bin/apt-get"' in containerfile
    assert 'ANSIBLE_GALAXY_CLI_COLLECTION_OPTS="--no-deps"' in containerfile
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in containerfile
    assert "RUN /output/scripts/check_ansible $PYCMD" in containerfile
    assert (context / "_build" / "requirements.txt").read_text() == (REPO / "requirements/runtime.txt").read_text()


def test_the_baked_collection_is_the_one_galaxy_yml_builds():
    (entry,) = yaml.safe_load((REPO / "ee" / "requirements.yml").read_text())["collections"]
    assert entry == {"name": f"collections/{TARBALL}", "type": "file"}


def test_the_image_runs_the_pinned_ansible_core_and_runner():
    dependencies = yaml.safe_load(EE.read_text())["dependencies"]
    controller = pins(REPO / "requirements" / "runtime.txt") | pins(REPO / "requirements" / "dev.txt")
    assert dependencies["ansible_core"]["package_pip"] == controller["ansible-core"]
    assert dependencies["ansible_runner"]["package_pip"] == controller["ansible-runner"]


def test_ansible_builder_finds_the_collections_own_requirements(tmp_path, tarball):
    """What the builder stage reads from the installed collection: requirements.txt and bindep.txt."""
    subprocess.run(
        ["ansible-galaxy", "collection", "install", "--no-deps", "--force", "-p", str(tmp_path / "c"), str(tarball)],
        check=True,
        capture_output=True,
    )
    found = subprocess.run(
        ["ansible-builder", "introspect", "--sanitize", str(tmp_path / "c")], capture_output=True, text=True, check=True
    ).stdout
    for requirement in ("psycopg2-binary", "boto3", "jmespath", "pgbackrest", "postgresql-client [platform:dpkg]"):
        assert requirement in found
    # every library the collection asks for is one the controller pins
    wanted = [line.split(">=")[0] for line in (REPO / "requirements.txt").read_text().splitlines() if ">=" in line]
    assert set(wanted) <= set(pins(REPO / "requirements" / "runtime.txt"))


def settings(path):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    return {(section, key): value for section in parser.sections() for key, value in parser[section].items()}


def test_the_project_configuration_knows_nothing_of_the_lab():
    project = settings(REPO / "ansible.cfg")
    lab_only = {"inventory", "collections_path", "fact_caching", "fact_caching_connection", "host_key_checking"}
    assert not {setting[1] for setting in project} & lab_only
    assert not [value for value in project.values() if ".cache" in value or "lab" in value]


def test_the_lab_configuration_repeats_the_project_one():
    project, lab = settings(REPO / "ansible.cfg"), settings(REPO / "lab" / "ansible.cfg")
    assert {key: lab.get(key) for key in project} == project
    assert lab[("defaults", "inventory")] == "../inventories/lab"
