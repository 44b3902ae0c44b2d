"""The certificate list's export: its columns, Chinese headers and coded values, written by the
kit's one CSV/XLSX writer (services/common/export.py); the rows are the list's own statement
(repository.py `export_statement`: scope, filters, order)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.common.export import Column, Table

STATUS_ZH = {"valid": "有效", "suspended": "暂停", "revoked": "撤销", "cancelled": "注销", "expired": "过期"}
# The stored columns the export reads (the effective status is derived from status and expires_on).
COLUMNS = [
    "certifier",
    "certificate_no",
    "holder_credit_code",
    "holder_name",
    "product",
    "scope",
    "standard_code",
    "rule_code",
    "issued_on",
    "expires_on",
    "status",
    "status_effective_on",
    "status_reason",
    "revision",
    "rule_set_version",
]


def certificates_table(effective: Callable[[Any], str]) -> Table:
    """The export's table; `effective` gives a row's effective status (the list's, as of today)."""
    return Table(
        columns=(
            Column("certifier", "认证机构代码", width=14),
            Column("certificate_no", "证书编号", width=20),
            Column("holder_credit_code", "持证企业统一社会信用代码", width=26),
            Column("holder_name", "持证企业名称", width=32),
            Column("product", "认证产品", width=30),
            Column("scope", "认证范围", width=40),
            Column("standard_code", "标准编号", width=20),
            Column("rule_code", "认证规则", width=20),
            Column("issued_on", "发证日期", "date"),
            Column("expires_on", "有效期至", "date"),
            Column("status", "报送状态", labels=STATUS_ZH),
            Column("effective_status", "当前状态", labels=STATUS_ZH, get=effective),
            Column("status_effective_on", "状态生效日期", "date", width=14),
            Column("status_reason", "状态说明", width=30),
            Column("revision", "变更次数", "int", width=10),
            Column("rule_set_version", "规则版本"),
        ),
        sheet="品字标认证证书",
        stem="certifications",
    )
