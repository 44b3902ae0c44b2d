"""Turn a CustomResourceDefinition into the JSON Schema of its one version, as the schemas beside
this file were made (README.md): the `openAPIV3Schema` verbatim, plus `additionalProperties: false`
on every object node that lists `properties` and has neither `additionalProperties` nor
`x-kubernetes-preserve-unknown-fields` (the API server prunes unknown fields and `kubectl apply`
refuses them; offline they would pass silently), except the root `metadata`.

    python crd_to_jsonschema.py CRD.yaml REPOSITORY TAG COMMIT PATH > kind-v1.json
"""

from __future__ import annotations

import hashlib
import json
import sys

import yaml


def close(node: object, path: tuple[str, ...] = ()) -> int:
    """Close every object node below `node`; returns how many were closed."""
    closed = 0
    if isinstance(node, dict):
        if (
            "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
            and path != ("properties", "metadata")
        ):
            node["additionalProperties"] = False
            closed += 1
        for key, value in node.items():
            closed += close(value, (*path, key))
    elif isinstance(node, list):
        for value in node:
            closed += close(value, path)
    return closed


def convert(raw: bytes, repository: str, tag: str, commit: str, path: str) -> dict:
    crd = yaml.safe_load(raw)
    (version,) = crd["spec"]["versions"]
    schema = version["schema"]["openAPIV3Schema"]
    closed = close(schema)
    kind, group = crd["spec"]["names"]["kind"], crd["spec"]["group"]
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": f"{kind} ({group}/{version['name']})",
        "x-kubernetes-group-version-kind": [{"group": group, "version": version["name"], "kind": kind}],
        "x-source": {
            "repository": repository,
            "tag": tag,
            "commit": commit,
            "path": path,
            "sha256": hashlib.sha256(raw).hexdigest(),
            "note": f"openAPIV3Schema copied verbatim; additionalProperties:false added on {closed} object nodes",
        },
        **schema,
    }


if __name__ == "__main__":
    source, repository, tag, commit, path = sys.argv[1:6]
    with open(source, "rb") as f:
        json.dump(convert(f.read(), repository, tag, commit, path), sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
