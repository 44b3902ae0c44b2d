from __future__ import annotations

from services.registry.reference.sizing import SizeResult


def size_out(result: SizeResult) -> dict:
    return {
        "size": result.size,
        "rule_version": result.rule_version,
        "industry_group": result.group.id,
        "industry_group_label": result.group.label,
        "decided_by": result.decided_by,
        "thresholds": result.thresholds(),
    }
