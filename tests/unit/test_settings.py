"""Settings layering (flag > env > file > default), provenance and validation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nfk8s.errors import BadInput
from nfk8s.settings import (
    DEFAULT_IMAGE,
    FIELDS,
    Settings,
    config_file_path,
    explain_settings,
    load_settings,
)


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """An environment whose default config file location is empty."""
    return {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}


def write_config(env: dict[str, str], text: str) -> Path:
    path = Path(env["XDG_CONFIG_HOME"]) / "nfk8s" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults(home: dict[str, str]) -> None:
    settings = load_settings({}, environ=home)
    assert settings == Settings()
    assert settings.namespace is None
    assert settings.context is None
    assert settings.kubeconfig is None
    assert settings.image == DEFAULT_IMAGE
    assert DEFAULT_IMAGE.startswith("nextflow/nextflow:")
    assert settings.runner_service_account == "nfk8s-runner"
    assert settings.work_pvc == "nfk8s-work"
    assert settings.work_mount_path == "/workspace"
    assert (settings.head_cpus, settings.head_memory) == ("1", "2Gi")
    assert settings.lock_name == "nfk8s-lock"
    assert settings.startup_grace_seconds == 120
    assert settings.history_limit == 50
    assert settings.default_timeout is None
    assert settings.cancel_grace_seconds == 120
    assert all(row.source == "default" for row in explain_settings({}, environ=home))


def test_layers_and_provenance(home: dict[str, str]) -> None:
    path = write_config(
        home,
        'namespace = "from-file"\nhead-memory = "8Gi"\nhistory_limit = 10\nimage = "img:file"\n',
    )
    env = {**home, "NFK8S_NAMESPACE": "from-env", "NFK8S_HEAD_MEMORY": "4Gi", "NFK8S_IMAGE": ""}
    flags = {"namespace": "from-flag", "context": None}
    settings = load_settings(flags, environ=env)
    assert settings.namespace == "from-flag"
    assert settings.head_memory == "4Gi"
    assert settings.history_limit == 10
    assert settings.image == "img:file"  # an empty variable counts as unset
    rows = {row.name: row for row in explain_settings(flags, environ=env)}
    assert list(rows) == list(FIELDS)
    assert rows["namespace"].source == "flag"
    assert rows["head_memory"].source == "env NFK8S_HEAD_MEMORY"
    assert rows["history_limit"].source == f"file {path}"
    assert rows["image"].source == f"file {path}"
    assert rows["context"].source == "default"
    assert rows["history_limit"].value == 10
    assert rows["head_memory"].env_var == "NFK8S_HEAD_MEMORY"


def test_durations_accept_units(home: dict[str, str]) -> None:
    env = {
        **home,
        "NFK8S_DEFAULT_TIMEOUT": "1h30m",
        "NFK8S_STARTUP_GRACE_SECONDS": "2m",
        "NFK8S_CANCEL_GRACE_SECONDS": "0",
    }
    settings = load_settings({}, environ=env)
    assert settings.default_timeout == 5400
    assert settings.startup_grace_seconds == 120
    assert settings.cancel_grace_seconds == 0
    write_config(home, "default_timeout = 600\nstartup_grace_seconds = 30\n")
    settings = load_settings({}, environ=home)
    assert (settings.default_timeout, settings.startup_grace_seconds) == (600, 30)
    assert load_settings({"default_timeout": "none"}, environ=home).default_timeout is None


def test_mount_path_is_normalised(home: dict[str, str]) -> None:
    assert load_settings({"work_mount_path": "/data/"}, environ=home).work_mount_path == "/data"


def test_nfk8s_config_points_elsewhere(home: dict[str, str], tmp_path: Path) -> None:
    custom = tmp_path / "custom.toml"
    custom.write_text('lock_name = "team-lock"\n')
    env = {**home, "NFK8S_CONFIG": str(custom)}
    assert config_file_path(env) == (custom, True)
    rows = {row.name: row for row in explain_settings({}, environ=env)}
    assert rows["lock_name"].value == "team-lock"
    assert rows["lock_name"].source == f"file {custom}"
    with pytest.raises(BadInput, match="does not exist") as info:
        load_settings({}, environ={**home, "NFK8S_CONFIG": str(tmp_path / "missing.toml")})
    assert "NFK8S_CONFIG" in (info.value.hint or "")


def test_config_file_location(tmp_path: Path) -> None:
    assert config_file_path({"HOME": "/h", "XDG_CONFIG_HOME": "/x"}) == (
        Path("/x/nfk8s/config.toml"),
        False,
    )
    # A relative XDG_CONFIG_HOME is ignored, as the spec says.
    path, explicit = config_file_path({"XDG_CONFIG_HOME": "relative"})
    assert path == Path.home() / ".config" / "nfk8s" / "config.toml"
    assert not explicit


@pytest.mark.parametrize(
    ("source", "name", "value", "problem"),
    [
        ("env", "default_timeout", "1x", "invalid duration"),
        ("env", "head_memory", "4GB", "invalid memory"),
        ("env", "head_cpus", "lots", "invalid CPU"),
        ("env", "namespace", "Bad_NS", "not a namespace"),
        ("env", "history_limit", "0", "at least 1"),
        ("env", "history_limit", "ten", "at least 1"),
        ("env", "work_mount_path", "relative/path", "absolute"),
        ("env", "work_mount_path", "/a/../b", ".."),
        ("env", "work_mount_path", "/", "absolute path below /"),
        ("env", "work_mount_path", "/a:b", "':'"),
        ("env", "lock_name", "Lock!", "object name"),
        ("env", "image", "has space", "image reference"),
        ("flag", "startup_grace_seconds", "0", "longer than zero"),
        ("flag", "cancel_grace_seconds", "-1", "invalid duration"),
        ("file", "default_timeout", "soon", "invalid duration"),
        ("file", "history_limit", True, "at least 1"),
        ("file", "startup_grace_seconds", 1.5, "not a duration"),
    ],
)
def test_invalid_values_name_setting_and_source(
    home: dict[str, str], source: str, name: str, value: object, problem: str
) -> None:
    env = dict(home)
    flags: dict[str, object] = {}
    if source == "env":
        env[f"NFK8S_{name.upper()}"] = str(value)
        where = f"env NFK8S_{name.upper()}"
    elif source == "flag":
        flags[name] = value
        where = "flag"
    else:
        literal = f'"{value}"' if isinstance(value, str) else str(value).lower()
        path = write_config(env, f"{name} = {literal}\n")
        where = f"file {path}"
    with pytest.raises(BadInput) as info:
        load_settings(flags, environ=env)
    message = info.value.message
    assert message.startswith(f"invalid setting {name} (from {where}): ")
    assert problem in message
    assert "\n" not in message
    assert info.value.hint


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("namespace = ", "not valid TOML"),
        ('namepsace = "x"', "unknown setting 'namepsace'"),
        ("[k8s]\nnamespace = 'x'", "unknown setting 'k8s'"),
        ("[namespace]\nname = 'x'", "single value"),
        ("history_limit = [1]", "single value"),
    ],
)
def test_bad_config_files(home: dict[str, str], text: str, problem: str) -> None:
    path = write_config(home, text)
    with pytest.raises(BadInput, match=problem) as info:
        load_settings({}, environ=home)
    assert str(path) in info.value.message


def test_unknown_flag_is_a_programming_error(home: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="unknown setting"):
        load_settings({"nope": 1}, environ=home)


def test_import_stays_light() -> None:
    code = (
        "import sys, nfk8s.settings; "
        "heavy = [m for m in ('kubernetes', 'yaml', 'rich', 'typer') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
