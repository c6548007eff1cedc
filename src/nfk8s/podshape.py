"""Settings that shape the driver pod: their text forms, and what they add to the pod.

Maps and lists come from three places, so each has one text form that ``NFK8S_*``
variables and flags use, and the TOML file may also give them as a table or an array:

- maps (``node_selector``, ``pod_labels``, ``pod_annotations``): ``KEY=VALUE,KEY=VALUE``,
  or a JSON object (for annotation values holding commas);
- ``tolerations``: ``KEY[=VALUE][:EFFECT]`` items, comma-separated (``KEY`` alone
  tolerates every value, no effect every effect, as ``kubectl taint`` writes them),
  or a JSON list of Toleration objects;
- ``image_pull_secrets``: names, comma-separated.

Each parser returns the canonical text ``nfk8s config`` shows; ``*_of`` functions turn
that text back into what the pod spec holds. Nothing here imports pydantic or kubernetes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from nfk8s.errors import BadInput

SECURITY_CONTEXTS = ("none", "restricted")
EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
# Label prefixes nfk8s and Nextflow select on: a user label there would confuse both.
RESERVED_PREFIXES = ("nfk8s.io/", "app.kubernetes.io/managed-by", "nextflow.io/")
# HOME and NXF_HOME of a non-root driver, below the work mount: the image's own home is
# root's and read-only to other users.
HOME_DIR = ".nfk8s/home"

_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_TOLERATION_KEYS = {"key", "operator", "value", "effect", "tolerationSeconds"}


def check_key(key: str, what: str) -> None:
    """A qualified label/annotation key: ``[prefix/]name``, as the API server checks it."""
    prefix, _, name = key.rpartition("/")
    ok = bool(name) and len(name) <= 63 and _NAME.fullmatch(name) is not None
    if prefix:
        ok = ok and len(prefix) <= 253 and _DNS_SUBDOMAIN.fullmatch(prefix) is not None
    if not ok:
        raise BadInput(
            f"{key!r} is not a valid {what} key",
            hint="use [prefix/]name: letters, digits, '-', '_' and '.', at most 63 characters "
            "(e.g. disktype or example.com/team)",
        )


def check_label_value(value: str, what: str) -> None:
    if value and (len(value) > 63 or _NAME.fullmatch(value) is None):
        raise BadInput(
            f"{value!r} is not a valid {what} value",
            hint="use at most 63 letters, digits, '-', '_' and '.', starting and ending "
            "with a letter or digit",
        )


def _json_or_none(text: str) -> Any:
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return None
    try:
        return json.loads(stripped)
    except ValueError as exc:
        raise BadInput(f"{stripped!r} is not valid JSON: {exc}", hint="fix the JSON") from None


def parse_map(value: Any, *, what: str, label_values: bool = True) -> dict[str, str]:
    """A map from a TOML table, a JSON object or ``KEY=VALUE,KEY=VALUE``."""
    hint = f"write the {what} as KEY=VALUE,KEY=VALUE or a JSON object"
    if value is None:
        return {}
    if isinstance(value, str):
        data = _json_or_none(value)
        if data is None:
            data = {}
            for item in (part.strip() for part in value.split(",")):
                if not item:
                    continue
                key, eq, val = item.partition("=")
                if not eq or not key.strip():
                    raise BadInput(f"{item!r} in the {what} is not KEY=VALUE", hint=hint)
                data[key.strip()] = val.strip()
        value = data
    if not isinstance(value, Mapping):
        raise BadInput(f"the {what} is a {type(value).__name__}, not a map", hint=hint)
    out: dict[str, str] = {}
    for key, val in value.items():
        if not isinstance(key, str) or not isinstance(val, str | int | float | bool):
            raise BadInput(f"{key!r} in the {what} needs a text value", hint=hint)
        text = json.dumps(val) if isinstance(val, bool) else str(val)
        check_key(key, what)
        if label_values:
            check_label_value(text, what)
        out[key] = text
    return out


def format_map(data: Mapping[str, str]) -> str | None:
    """The canonical text of a map: ``KEY=VALUE,...``, or JSON when a value needs it."""
    if not data:
        return None
    if any(("," in v or "=" in v or v != v.strip()) for v in data.values()):
        return json.dumps(dict(data), separators=(",", ":"), ensure_ascii=False)
    return ",".join(f"{k}={v}" for k, v in data.items())


def parse_pod_labels(value: Any, *, what: str = "pod labels") -> str | None:
    labels = parse_map(value, what=what)
    for key in labels:
        if key.startswith(RESERVED_PREFIXES):
            raise BadInput(
                f"the label {key!r} belongs to nfk8s or Nextflow",
                hint="choose a key outside nfk8s.io/, nextflow.io/ and "
                "app.kubernetes.io/managed-by",
            )
    return format_map(labels)


def map_of(text: str | None) -> dict[str, str]:
    return parse_map(text, what="map", label_values=False)


def _toleration(item: str) -> dict[str, Any]:
    hint = "write tolerations as KEY[=VALUE][:EFFECT], e.g. dedicated=nextflow:NoSchedule"
    rest, colon, effect = item.rpartition(":") if ":" in item else (item, "", "")
    key, eq, value = rest.partition("=")
    key, value, effect = key.strip(), value.strip(), effect.strip()
    if not key:
        raise BadInput(f"toleration {item!r} has no key", hint=hint)
    if colon and effect not in EFFECTS:
        raise BadInput(
            f"toleration {item!r} has the effect {effect!r}",
            hint="the effect is one of " + ", ".join(EFFECTS),
        )
    out: dict[str, Any] = {"key": key, "operator": "Equal" if eq else "Exists"}
    if eq:
        out["value"] = value
    if effect:
        out["effect"] = effect
    return out


def _check_toleration(item: Any) -> dict[str, Any]:
    hint = "each toleration is an object with key, operator, value, effect, tolerationSeconds"
    if not isinstance(item, Mapping):
        raise BadInput(f"toleration {item!r} is not an object", hint=hint)
    unknown = sorted(set(item) - _TOLERATION_KEYS)
    if unknown:
        raise BadInput(f"toleration {dict(item)!r} has unknown fields {unknown}", hint=hint)
    operator = item.get("operator", "Equal")
    if operator not in {"Equal", "Exists"}:
        raise BadInput(f"toleration operator {operator!r} is not Equal or Exists", hint=hint)
    if operator == "Exists" and item.get("value"):
        raise BadInput(f"toleration {dict(item)!r}: Exists takes no value", hint=hint)
    if not item.get("key") and operator != "Exists":
        raise BadInput(f"toleration {dict(item)!r}: an empty key needs Exists", hint=hint)
    effect = item.get("effect")
    if effect not in (None, "", *EFFECTS):
        raise BadInput(f"toleration effect {effect!r} is not one of " + ", ".join(EFFECTS))
    seconds = item.get("tolerationSeconds")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int)):
        raise BadInput(f"tolerationSeconds {seconds!r} is not a whole number", hint=hint)
    for field in ("key", "value"):
        if not isinstance(item.get(field, ""), str):
            raise BadInput(f"toleration {field} {item.get(field)!r} is not text", hint=hint)
    return dict(item)


def tolerations_of(value: Any) -> list[dict[str, Any]]:
    """Toleration objects from a TOML array, a JSON list or ``KEY[=VALUE][:EFFECT],...``."""
    if value is None:
        return []
    if isinstance(value, str):
        data = _json_or_none(value)
        if data is None:
            return [_toleration(p.strip()) for p in value.split(",") if p.strip()]
        value = data
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        raise BadInput(
            f"tolerations must be a list, not {type(value).__name__}",
            hint="write tolerations as KEY[=VALUE][:EFFECT],... or a JSON list",
        )
    return [
        _check_toleration(item) if not isinstance(item, str) else _toleration(item)
        for item in value
    ]


def _short(toleration: Mapping[str, Any]) -> str | None:
    if set(toleration) - {"key", "operator", "value", "effect"} or not toleration.get("key"):
        return None
    text = str(toleration["key"])
    if toleration.get("operator", "Equal") == "Equal":
        text += f"={toleration.get('value', '')}"
    if toleration.get("effect"):
        text += f":{toleration['effect']}"
    return None if "," in text else text


def parse_tolerations(value: Any) -> str | None:
    """The canonical text of tolerations: the short form, or JSON when one needs it."""
    items = tolerations_of(value)
    if not items:
        return None
    short = [_short(t) for t in items]
    if all(s is not None for s in short):
        return ",".join(s for s in short if s is not None)
    return json.dumps(items, separators=(",", ":"))


def names_of(value: Any, *, what: str) -> list[str]:
    """Object names from a TOML array or ``NAME,NAME``."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        raise BadInput(f"the {what} must be names, comma-separated", hint="e.g. regcred,mirror")
    names = [str(item).strip() for item in items if str(item).strip()]
    for name in names:
        check_object_name(name, what)
    return list(dict.fromkeys(names))


def check_object_name(name: str, what: str) -> str:
    if len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
        raise BadInput(
            f"{name!r} is not a valid {what} name",
            hint="use lowercase letters, digits, dashes and dots",
        )
    return name


def parse_security_context(value: Any) -> str:
    text = str(value).strip().lower() if value is not None else "none"
    if text in {"", "false", "off", "default"}:
        text = "none"
    if text == "true":
        text = "restricted"
    if text not in SECURITY_CONTEXTS:
        raise BadInput(
            f"{value!r} is not a security context",
            hint="use restricted (Pod Security 'restricted') or none",
        )
    return text


def parse_id(value: Any, *, what: str) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= 2**31 - 1:
        raise BadInput(
            f"{value!r} is not a {what}",
            hint="use a whole number from 1 (0 is root, which runAsNonRoot refuses)",
        )
    return int(text)


# -- what the settings add to the pod ---------------------------------------------------


def pod_security_context(uid: int, gid: int) -> dict[str, Any]:
    """What Pod Security ``restricted`` asks of the pod; fsGroup makes the work volume
    group-writable where its driver supports ownership management."""
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": gid,
        "fsGroup": gid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def home_env(mount: str) -> list[dict[str, str]]:
    """HOME and NXF_HOME on the work volume, where a non-root Nextflow can write them."""
    home = f"{mount}/{HOME_DIR}"
    return [{"name": "HOME", "value": home}, {"name": "NXF_HOME", "value": f"{home}/.nextflow"}]
