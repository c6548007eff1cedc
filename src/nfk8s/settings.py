"""Effective settings and where each came from: flags, then ``NFK8S_*`` env, then a file.

The user file is TOML at ``$XDG_CONFIG_HOME/nfk8s/config.toml`` (default
``~/.config/nfk8s/config.toml``), or wherever ``NFK8S_CONFIG`` points. Keys are the
setting names (``head_memory`` or ``head-memory``). Layering is done here rather than by
pydantic-settings' own sources so ``nfk8s config`` can say exactly which layer won and an
invalid value can be blamed on the place it was written.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from nfk8s import podshape
from nfk8s.errors import BadInput
from nfk8s.inputs import parse_duration, parse_quantity_cpu, parse_quantity_memory, split_globs
from nfk8s.paths import CONFIG_ENV, config_file_path

ENV_PREFIX = "NFK8S_"
DEFAULT_IMAGE = "nextflow/nextflow:26.04.3"

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


class SettingError(ValueError):
    """A setting's value is unusable; ``hint`` says what would work."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def _check(fn: Any, value: Any, **kwargs: Any) -> Any:
    try:
        return fn(value, **kwargs)
    except BadInput as exc:
        raise SettingError(exc.message, exc.hint) from None


class Settings(BaseSettings):
    """nfk8s configuration; build it with ``load_settings`` to get every layer."""

    # Each setting's docstring is its one-line description in `nfk8s config` and the README.
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        validate_default=True,
        use_attribute_docstrings=True,
    )

    namespace: str | None = None
    """Namespace of the runs; default: the kubeconfig context's namespace."""
    context: str | None = None
    """Kubeconfig context; default: the current context."""
    kubeconfig: str | None = None
    """Kubeconfig file; default: `$KUBECONFIG`, else `~/.kube/config`, else in-cluster."""
    image: str = DEFAULT_IMAGE
    """Container image of the Nextflow driver."""
    runner_service_account: str = "nfk8s-runner"
    """ServiceAccount the driver runs as; it creates the task pods."""
    work_pvc: str = "nfk8s-work"
    """ReadWriteMany PVC for the work and launch directories."""
    work_mount_path: str = "/workspace"
    """Where the work PVC is mounted in the driver and task pods."""
    head_cpus: str = "1"
    """CPU request and limit of the driver pod (`--head-cpus`)."""
    head_memory: str = "2Gi"
    """Memory request and limit of the driver pod (`--head-memory`)."""
    lock_name: str = "nfk8s-lock"
    """Name of the Lease that allows one run at a time in the namespace."""
    startup_grace_seconds: int = 120
    """How long a new holder keeps the lock before its Job exists (a duration)."""
    history_limit: int = 50
    """Finished run records kept after each run and by `prune`."""
    default_timeout: int | None = None
    """Timeout of a run without `--timeout` (a duration); none by default."""
    start_timeout: int = 600
    """How long a run's driver may take to start before the run fails with exit 7 (a duration)."""
    cancel_grace_seconds: int = 120
    """Seconds Nextflow gets to stop its tasks on `cancel` (a duration)."""
    secret_params: str | None = None
    """Globs of params kept out of the run record besides secret-looking ones (`db_*,aws.*`)."""
    node_selector: str | None = None
    """Node labels the driver pod must run on: `disk=ssd,zone=a` or JSON (`--node-selector`)."""
    tolerations: str | None = None
    """Taints the driver pod tolerates: `KEY[=VALUE][:EFFECT],...` or JSON (`--toleration`)."""
    image_pull_secrets: str | None = None
    """Secrets holding registry credentials for the driver image: `regcred,mirror`."""
    priority_class: str | None = None
    """PriorityClass of the driver pod (`--priority-class`)."""
    pod_labels: str | None = None
    """Extra labels on the driver pod: `team=genomics,cost=lab-7` or JSON."""
    pod_annotations: str | None = None
    """Extra annotations on the driver pod, e.g. `sidecar.istio.io/inject=false`, or JSON."""
    security_context: str = "none"
    """`restricted`: a driver pod Pod Security `restricted` admits (`--restricted`); `none`."""
    run_as_user: int = 1000
    """UID the driver runs as with `security_context = restricted`."""
    run_as_group: int = 1000
    """GID and fsGroup of the driver with `security_context = restricted`."""
    driver_pod_patch: str | None = None
    """YAML or JSON file merged into the driver's pod template (`--driver-pod-patch`)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings merges env and the file itself, keeping provenance.
        return (init_settings,)

    @field_validator("namespace", mode="before")
    @classmethod
    def _namespace(cls, value: Any) -> str | None:
        text = _optional_text(value)
        if text is not None and (len(text) > 63 or not _DNS_LABEL.fullmatch(text)):
            raise SettingError(
                f"{text!r} is not a namespace name",
                "use lowercase letters, digits and dashes, at most 63 characters",
            )
        return text

    @field_validator("context", "kubeconfig", mode="before")
    @classmethod
    def _optional(cls, value: Any) -> str | None:
        return _optional_text(value)

    @field_validator("image", mode="before")
    @classmethod
    def _image(cls, value: Any) -> str:
        text = str(value).strip()
        if not text or any(ch.isspace() for ch in text):
            raise SettingError(f"{value!r} is not an image reference", f"e.g. {DEFAULT_IMAGE}")
        return text

    @field_validator("runner_service_account", "work_pvc", "lock_name", mode="before")
    @classmethod
    def _object_name(cls, value: Any) -> str:
        text = str(value).strip()
        if len(text) > 253 or not _DNS_SUBDOMAIN.fullmatch(text):
            raise SettingError(
                f"{text!r} is not a Kubernetes object name",
                "use lowercase letters, digits, dashes and dots",
            )
        return text

    @field_validator("work_mount_path", mode="before")
    @classmethod
    def _mount_path(cls, value: Any) -> str:
        text = str(value).strip()
        hint = "use an absolute path such as /workspace"
        if not text.startswith("/") or text.rstrip("/") == "":
            raise SettingError(f"{text!r} is not an absolute path below /", hint)
        if ":" in text or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
            raise SettingError(f"{text!r} contains ':' or control characters", hint)
        if any(part in {".", ".."} for part in text.split("/")):
            raise SettingError(f"{text!r} contains . or .. components", hint)
        return text.rstrip("/")

    @field_validator("head_cpus", mode="before")
    @classmethod
    def _cpus(cls, value: Any) -> str:
        return str(_check(parse_quantity_cpu, value))

    @field_validator("head_memory", mode="before")
    @classmethod
    def _memory(cls, value: Any) -> str:
        return str(_check(parse_quantity_memory, value))

    @field_validator("startup_grace_seconds", mode="before")
    @classmethod
    def _grace(cls, value: Any) -> int:
        return int(_check(parse_duration, _duration_input(value), what="duration"))

    @field_validator("start_timeout", mode="before")
    @classmethod
    def _start_timeout(cls, value: Any) -> int:
        return int(_check(parse_duration, _duration_input(value), what="duration"))

    @field_validator("cancel_grace_seconds", mode="before")
    @classmethod
    def _cancel_grace(cls, value: Any) -> int:
        return int(_check(parse_duration, _duration_input(value), what="duration", allow_zero=True))

    @field_validator("default_timeout", mode="before")
    @classmethod
    def _timeout(cls, value: Any) -> int | None:
        if value is None or (isinstance(value, str) and value.strip().lower() in {"", "none"}):
            return None
        return int(_check(parse_duration, _duration_input(value), what="duration"))

    @field_validator("secret_params", mode="before")
    @classmethod
    def _secret_params(cls, value: Any) -> str | None:
        if value is None:
            return None
        globs = _check(split_globs, str(value))
        return ",".join(globs) or None

    @property
    def secret_param_globs(self) -> tuple[str, ...]:
        return split_globs(self.secret_params or "")

    @field_validator("node_selector", mode="before")
    @classmethod
    def _node_selector(cls, value: Any) -> str | None:
        return podshape.format_map(_check(podshape.parse_map, value, what="node selector"))

    @field_validator("pod_labels", mode="before")
    @classmethod
    def _pod_labels(cls, value: Any) -> str | None:
        return _check(podshape.parse_pod_labels, value)

    @field_validator("pod_annotations", mode="before")
    @classmethod
    def _pod_annotations(cls, value: Any) -> str | None:
        parsed = _check(podshape.parse_map, value, what="pod annotations", label_values=False)
        return podshape.format_map(parsed)

    @field_validator("tolerations", mode="before")
    @classmethod
    def _tolerations(cls, value: Any) -> str | None:
        return _check(podshape.parse_tolerations, value)

    @field_validator("image_pull_secrets", mode="before")
    @classmethod
    def _pull_secrets(cls, value: Any) -> str | None:
        names = _check(podshape.names_of, value, what="image pull secret")
        return ",".join(names) or None

    @field_validator("priority_class", mode="before")
    @classmethod
    def _priority_class(cls, value: Any) -> str | None:
        text = _optional_text(value)
        if text is None:
            return None
        return str(_check(podshape.check_object_name, text, what="PriorityClass"))

    @field_validator("security_context", mode="before")
    @classmethod
    def _security_context(cls, value: Any) -> str:
        return str(_check(podshape.parse_security_context, value))

    @field_validator("run_as_user", "run_as_group", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> int:
        return int(_check(podshape.parse_id, value, what="user or group id"))

    @field_validator("driver_pod_patch", mode="before")
    @classmethod
    def _driver_pod_patch(cls, value: Any) -> str | None:
        from nfk8s.podpatch import load_patch

        path = _optional_text(value)
        if path is not None:
            _check(load_patch, path)
        return path

    @property
    def node_selector_map(self) -> dict[str, str]:
        return podshape.map_of(self.node_selector)

    @property
    def toleration_list(self) -> list[dict[str, Any]]:
        return podshape.tolerations_of(self.tolerations)

    @property
    def pull_secret_names(self) -> list[str]:
        return podshape.names_of(self.image_pull_secrets, what="image pull secret")

    @property
    def pod_label_map(self) -> dict[str, str]:
        return podshape.map_of(self.pod_labels)

    @property
    def pod_annotation_map(self) -> dict[str, str]:
        return podshape.map_of(self.pod_annotations)

    @property
    def restricted(self) -> bool:
        return self.security_context == "restricted"

    @cached_property
    def pod_patch(self) -> dict[str, Any]:
        """The parsed ``driver_pod_patch`` file, read once per settings."""
        from nfk8s.podpatch import load_patch

        return load_patch(self.driver_pod_patch) if self.driver_pod_patch else {}

    @field_validator("history_limit", mode="before")
    @classmethod
    def _history_limit(cls, value: Any) -> int:
        text = str(value).strip()
        if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
            raise SettingError(f"{value!r} is not a whole number of at least 1", "e.g. 50")
        return int(text)


def _optional_text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _duration_input(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise SettingError(f"{value!r} is not a duration", "e.g. 90s, 15m, 2h")
    return value


FIELDS: tuple[str, ...] = tuple(Settings.model_fields)
# Settings a TOML file may give as a table or an array, not only as text.
STRUCTURED = frozenset(
    {"node_selector", "tolerations", "image_pull_secrets", "pod_labels", "pod_annotations"}
)


@dataclass(frozen=True)
class SettingSource:
    """One setting's effective value and the layer it came from."""

    name: str
    value: Any
    source: str  # "flag", "env NFK8S_X", "file PATH", "kubeconfig", ... or "default"

    @property
    def env_var(self) -> str:
        return env_var(self.name)


def env_var(name: str) -> str:
    return ENV_PREFIX + name.upper()


def _read_file(path: Path, explicit: bool) -> dict[str, Any]:
    hint = f"fix or remove {path}" + ("" if not explicit else f" (set by {CONFIG_ENV})")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if explicit:
            raise BadInput(
                f"config file {path} does not exist ({CONFIG_ENV})",
                hint=f"create it, or unset {CONFIG_ENV}",
            ) from None
        return {}
    except OSError as exc:
        raise BadInput(f"cannot read config file {path}: {exc.strerror}", hint=hint) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"config file {path} is not valid TOML: {exc}", hint=hint) from None
    values: dict[str, Any] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in FIELDS:
            raise BadInput(
                f"config file {path} has an unknown setting {key!r}",
                hint="known settings: " + ", ".join(FIELDS),
            )
        if isinstance(value, dict | list) and name not in STRUCTURED:
            raise BadInput(
                f"setting {key!r} in config file {path} must be a single value",
                hint=hint,
            )
        values[name] = value
    return values


def _layers(
    overrides: Mapping[str, Any] | None, environ: Mapping[str, str] | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Raw values and their source, highest layer first wins."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    path, explicit = config_file_path(env)
    for name, value in _read_file(path, explicit).items():
        values[name], sources[name] = value, f"file {path}"
    for name in FIELDS:
        # An empty variable counts as unset: CI templates often expand to "".
        raw = env.get(env_var(name))
        if raw is not None and raw.strip() != "":
            values[name], sources[name] = raw, f"env {env_var(name)}"
    for name, value in (overrides or {}).items():
        if name not in FIELDS:
            raise ValueError(f"unknown setting {name!r}")
        if value is not None:
            values[name], sources[name] = value, "flag"
    return values, sources


def load_settings(
    overrides: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None
) -> Settings:
    """Settings from flags (``overrides``; None means not given), env, file and defaults."""
    values, sources = _layers(overrides, environ)
    try:
        return Settings(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "?"
        cause = (error.get("ctx") or {}).get("error")
        problem = str(cause) if cause is not None else error["msg"]
        hint = getattr(cause, "hint", None)
        where = sources.get(name, "default")
        fix = _where_to_fix(name, where)
        raise BadInput(
            f"invalid setting {name} (from {where}): {problem}",
            hint="; ".join(part for part in (hint, fix) if part) or None,
        ) from None


def _where_to_fix(name: str, source: str) -> str | None:
    if source == "flag":
        return "fix the command-line flag"
    if source.startswith("env "):
        return f"fix or unset {source[4:]}"
    if source.startswith("file "):
        return f"fix {name} in {source[5:]}"
    return None


def explain_settings(
    overrides: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None
) -> list[SettingSource]:
    """Each setting's effective value and where it came from, for ``nfk8s config``."""
    from nfk8s.kube import KubeTarget, kubeconfig_defaults

    settings = load_settings(overrides, environ=environ)
    _, sources = _layers(overrides, environ)
    # Left unset, these three are what the kubeconfig says: show that, as kubectl would use it.
    found = kubeconfig_defaults(
        KubeTarget(settings.kubeconfig, settings.context, settings.namespace)
    )
    return [
        SettingSource(name, *found[name])
        if name in found and name not in sources
        else SettingSource(name, getattr(settings, name), sources.get(name, "default"))
        for name in FIELDS
    ]


def driver_pod_overrides(
    *,
    node_selector: list[str] | None = None,
    tolerations: list[str] | None = None,
    priority_class: str | None = None,
    restricted: bool = False,
    driver_pod_patch: str | None = None,
) -> dict[str, Any]:
    """Setting overrides from `nfk8s run`'s driver-pod flags; a repeated flag's values join.

    A flag replaces the setting from env or file rather than adding to it, as every flag does.
    """
    values: dict[str, Any] = {
        "node_selector": ",".join(node_selector) if node_selector else None,
        "tolerations": ",".join(tolerations) if tolerations else None,
        "priority_class": priority_class,
        "security_context": "restricted" if restricted else None,
        "driver_pod_patch": driver_pod_patch,
    }
    return {k: v for k, v in values.items() if v is not None}
