"""The finance lists' exports — loans, credit lines, guarantees: their columns, Chinese headers
and coded values, written by the kit's one CSV/XLSX writer (services/common/export.py). Each
list's repository gives the rows (`export_statement`: the list's own scope, filters and order).
"""

from __future__ import annotations

from services.common.export import SIZE_ZH, Column, Table

PRODUCT_ZH = {
    "credit": "信用贷款",
    "guaranteed": "保证贷款",
    "mortgage": "抵押贷款",
    "pledge": "质押贷款",
    "ip_pledge": "知识产权质押贷款",
    "receivables": "应收账款融资",
    "supply_chain": "供应链融资",
    "inventory": "存货融资",
    "movable_property": "动产融资",
    "other": "其他",
}
RENEWAL_ZH = {
    "new": "新发放",
    "renewal_without_repayment": "无还本续贷",
    "refinance": "借新还旧",
    "extension": "展期",
}
LOAN_STATUS_ZH = {"outstanding": "未结清", "repaid": "已结清", "overdue": "逾期", "written_off": "已核销"}
BORROWER_KIND_ZH = {"enterprise": "企业", "individual_business": "个体工商户", "business_owner": "小微企业主"}
SIZE_SOURCE_ZH = {"registry": "企业库", "bank": "银行报送"}
INCLUSIVE_REASON_ZH = {
    "line_total_within_cap": "授信合计不超过1000万元",
    "line_total_over_cap": "授信合计超过1000万元",
    "no_line_loans_total_within_cap": "无授信，贷款合计不超过1000万元",
    "no_line_loans_total_over_cap": "无授信，贷款合计超过1000万元",
    "not_small_micro": "非小型微型企业",
}
LINE_STATUS_ZH = {"active": "有效", "closed": "已终止"}
GUARANTEE_STATUS_ZH = {"active": "在保", "released": "已解保", "compensated": "已代偿"}

CODE = 22  # width of a credit code column
REF = 18  # width of a reference column

LOANS = Table(
    columns=(
        Column("lender", "贷款机构代码", width=14),
        Column("loan_ref", "贷款编号", width=REF),
        Column("borrower_credit_code", "借款人统一社会信用代码", width=CODE + 4),
        Column("borrower_name", "借款人名称", width=32),
        Column("borrower_region", "借款人地区代码"),
        Column("borrower_size", "企业规模（银行报送）", labels=SIZE_ZH),
        Column("product", "贷款品种", labels=PRODUCT_ZH, width=16),
        Column("amount", "贷款金额（元）", "money", width=18),
        Column("annual_rate", "年利率（%）", "rate"),
        Column("issued_on", "发放日期", "date"),
        Column("matures_on", "到期日期", "date"),
        Column("renewal_type", "续贷方式", labels=RENEWAL_ZH),
        Column("is_first_loan", "首贷户", "bool"),
        Column("credit_line_ref", "授信编号", width=REF),
        Column("guarantee_ref", "担保编号", width=REF),
        Column("outstanding_balance", "贷款余额（元）", "money", width=18),
        Column("status", "贷款状态", labels=LOAN_STATUS_ZH),
        Column("closed_on", "结清日期", "date"),
        Column("borrower_kind", "借款人类型", labels=BORROWER_KIND_ZH),
        Column("customer_ref", "客户编号", width=REF),
        Column("unmatched", "企业库未匹配", "bool", get=lambda row: not row["matched"]),
        Column("size_class", "认定规模", labels=SIZE_ZH),
        Column("size_source", "规模来源", labels=SIZE_SOURCE_ZH),
        Column("line_total", "授信合计（元）", "money", width=18),
        Column("loans_total", "贷款合计（元）", "money", width=18),
        Column("inclusive", "普惠型小微企业贷款", "bool"),
        Column("inclusive_reason", "普惠认定依据", labels=INCLUSIVE_REASON_ZH, width=30),
        Column("rule_set_version", "规则版本"),
    ),
    sheet="贷款明细",
    stem="loans",
)
# The loan columns the statement reads (`unmatched` is derived from `matched`).
LOAN_COLUMNS = [c.key for c in LOANS.columns if c.key != "unmatched"] + ["matched"]

CREDIT_LINES = Table(
    columns=(
        Column("lender", "贷款机构代码", width=14),
        Column("line_ref", "授信编号", width=REF),
        Column("borrower_credit_code", "借款人统一社会信用代码", width=CODE + 4),
        Column("borrower_region", "借款人地区代码"),
        Column("amount", "授信金额（元）", "money", width=18),
        Column("granted_on", "授信日期", "date"),
        Column("expires_on", "到期日期", "date"),
        Column("status", "授信状态", labels=LINE_STATUS_ZH),
        Column("closed_on", "终止日期", "date"),
        Column("rule_set_version", "规则版本"),
    ),
    sheet="授信明细",
    stem="credit-lines",
)

GUARANTEES = Table(
    columns=(
        Column("guarantor", "担保机构代码", width=14),
        Column("guarantee_ref", "担保编号", width=REF),
        Column("borrower_credit_code", "借款人统一社会信用代码", width=CODE + 4),
        Column("borrower_region", "借款人地区代码"),
        Column("lender_code", "贷款机构代码", width=14),
        Column("loan_ref", "贷款编号", width=REF),
        Column("guaranteed_amount", "担保金额（元）", "money", width=18),
        Column("outstanding_amount", "在保余额（元）", "money", width=18),
        Column("fee_rate", "担保费率（%）", "rate"),
        Column("starts_on", "起始日期", "date"),
        Column("ends_on", "到期日期", "date"),
        Column("status", "担保状态", labels=GUARANTEE_STATUS_ZH),
        Column("released_on", "解保日期", "date"),
        Column("compensated_on", "代偿日期", "date"),
        Column("compensated_amount", "代偿金额（元）", "money", width=18),
        Column("recovered_amount", "追偿金额（元）", "money", width=18),
        Column("counter_guarantee", "反担保", "bool"),
        Column("reguarantee_share", "再担保比例（%）", "rate"),
        Column("rule_set_version", "规则版本"),
    ),
    sheet="担保明细",
    stem="guarantees",
)


def columns_of(table: Table) -> list[str]:
    """The stored columns a table reads (every column keyed by a column of the table)."""
    return [c.key for c in table.columns]
