from __future__ import annotations

from services.registry.reference.sizing import SizeResult


def size_out(result: SizeResult) -> dict:
    outside = result.out_of_scope
    return {
        "size": result.size,
        "in_scope": outside is None,
        "out_of_scope_reason": outside.reason if outside else None,
        "rule_version": result.rule_version,
        "industry_group": result.group.id if result.group else None,
        "industry_group_label": result.group.label if result.group else None,
        "decided_by": result.decided_by,
        "thresholds": result.thresholds(),
    }
