"""JSON merge patch, strategic merge patch and JSON patch over plain JSON documents."""

from __future__ import annotations

from typing import Any

from tests.fakekube.api import StatusError
from tests.fakekube.util import copy_json

# Strategic-merge lists keyed by a field, as the Kubernetes OpenAPI marks them.
# Keyed by field name alone: these names mean the same thing wherever they occur in the
# types this server serves.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "ownerReferences": "uid",
    "conditions": "type",
    "hostAliases": "ip",
    "containerStatuses": "name",
    "initContainerStatuses": "name",
    "podIPs": "ip",
    "secrets": "name",
    "topologySpreadConstraints": "topologyKey",
}
# Lists of scalars merged as sets.
MERGE_SETS = {"finalizers"}


def bad_patch(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy_json(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _strategic_list(field: str, original: Any, patch: list[Any]) -> list[Any]:
    orig = list(original) if isinstance(original, list) else []
    key = MERGE_KEYS.get(field)
    if field in MERGE_SETS:
        out = list(orig)
        for v in patch:
            if v not in out:
                out.append(v)
        return out
    if key is None or not all(isinstance(p, dict) for p in patch):
        return [copy_json(p) for p in patch]
    # A lone {"$patch": "replace"} entry replaces the whole list.
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [copy_json(p) for p in patch if p.get("$patch") != "replace"]
    out = [copy_json(o) for o in orig]
    for p in patch:
        directive = p.get("$patch")
        kv = p.get(key)
        idx = next((i for i, o in enumerate(out) if isinstance(o, dict) and o.get(key) == kv), None)
        if directive == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        clean = {k: v for k, v in p.items() if k != "$patch"}
        if idx is None:
            out.append(strategic_merge(None, clean))
        else:
            out[idx] = strategic_merge(out[idx], clean)
    return out


def strategic_merge(target: Any, patch: Any) -> Any:
    """Strategic merge patch (the subset Kubernetes clients send for built-in types)."""
    if not isinstance(patch, dict):
        return copy_json(patch)
    if patch.get("$patch") == "replace":
        return {k: copy_json(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = dict(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$retainKeys", "$patch"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [v for v in result[field] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _strategic_list(key, result.get(key), value)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = value
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_patch(f"invalid JSON pointer: {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _resolve(doc: Any, parts: list[str]) -> Any:
    cur = doc
    for p in parts:
        if isinstance(cur, dict):
            if p not in cur:
                raise bad_patch(
                    f"the server rejected our request due to an error in our request: "
                    f'doc is missing path: "/{"/".join(parts)}"'
                )
            cur = cur[p]
        elif isinstance(cur, list):
            try:
                cur = cur[int(p)]
            except (ValueError, IndexError):
                raise bad_patch(f'doc is missing path: "/{"/".join(parts)}"') from None
        else:
            raise bad_patch(f'doc is missing path: "/{"/".join(parts)}"')
    return cur


def _add(doc: Any, parts: list[str], value: Any, *, replace: bool) -> Any:
    if not parts:
        return copy_json(value)
    parent = _resolve(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise bad_patch(
                f"replace operation does not apply: doc is missing key: /{'/'.join(parts)}"
            )
        parent[last] = copy_json(value)
    elif isinstance(parent, list):
        if last == "-":
            parent.append(copy_json(value))
        else:
            try:
                i = int(last)
            except ValueError:
                raise bad_patch(f"invalid array index {last!r}") from None
            if replace:
                if not 0 <= i < len(parent):
                    raise bad_patch(f"replace operation does not apply: index {i} out of range")
                parent[i] = copy_json(value)
            else:
                if not 0 <= i <= len(parent):
                    raise bad_patch(f"add operation does not apply: index {i} out of range")
                parent.insert(i, copy_json(value))
    else:
        raise bad_patch(f'doc is missing path: "/{"/".join(parts)}"')
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    if not parts:
        raise bad_patch("cannot remove the document root")
    parent = _resolve(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise bad_patch(
                f'remove operation does not apply: doc is missing path: "/{"/".join(parts)}"'
            )
        return parent.pop(last)
    if isinstance(parent, list):
        try:
            return parent.pop(int(last))
        except (ValueError, IndexError):
            raise bad_patch(
                f'remove operation does not apply: doc is missing path: "/{"/".join(parts)}"'
            ) from None
    raise bad_patch(f'doc is missing path: "/{"/".join(parts)}"')


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902."""
    if not isinstance(ops, list):
        raise bad_patch("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy_json(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise bad_patch("invalid JSON patch operation")
        kind = op["op"]
        parts = _pointer(op.get("path", ""))
        if kind == "add":
            doc = _add(doc, parts, op.get("value"), replace=False)
        elif kind == "replace":
            doc = _add(doc, parts, op.get("value"), replace=True)
        elif kind == "remove":
            _remove(doc, parts)
        elif kind == "test":
            if _resolve(doc, parts) != op.get("value"):
                raise StatusError(
                    422,
                    "Invalid",
                    "the server rejected our request due to an error in our request: "
                    "testing value failed",
                )
        elif kind in ("move", "copy"):
            src = _pointer(op.get("from", ""))
            value = copy_json(_resolve(doc, src))
            if kind == "move":
                _remove(doc, src)
            doc = _add(doc, parts, value, replace=False)
        else:
            raise bad_patch(f"Unexpected kind: {kind}")
    return doc
