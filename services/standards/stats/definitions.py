"""Statistic definitions (shown in the OpenAPI description) of the figures this service reports
against the programme targets it owns (../shared/domain.md §1; the targets themselves are data:
services/common/targets.py)."""

from __future__ import annotations

DEFINITIONS = {
    "intl_standards_led": (
        "累计主导制(修)订国际标准: distinct standards at level `international` with at least one drafter "
        "recorded as `lead` whose region falls in the region, published on or before 31 December of the "
        "year (cumulative; withdrawn standards still count; no publication date counts in every year)."
    ),
    "zhejiang_made_standards": (
        '"浙江制造"标准 (cumulative stock): standards at level `zhejiang_made` (T/ZZB) published on or '
        "before 31 December of the year, withdrawn ones included (no publication date counts). For the "
        "province (or no region) "
        "every such standard counts; for a city or county, and in group rows, those with a lead drafter "
        "in that region."
    ),
    "pinzibiao_smes": (
        '争创"品字标"浙江制造品牌中小企业: distinct certificate holders that are small, medium or micro '
        "enterprises (registry size class of the latest indicator year up to the year) and hold at least "
        "one certificate valid at the end of the year: issued_on ≤ 31 December ≤ expires_on and the last "
        "status pushed with status_effective_on ≤ 31 December is `valid`. Holders unknown to the registry "
        "have no size class and are not counted."
    ),
    "adoption_rate": (
        "规上工业企业主导产品采标率: Σ main products adopting international or advanced foreign standards "
        "with IDT or MOD degree ÷ Σ main products, over the year's adoption reports of enterprises that "
        "are industrial (sections B, C, D) and above scale (latest scale-status fact effective in or "
        "before the year is `above`), in percent with 2 places; null when no report counts."
    ),
}


def description() -> str:
    lines = ["Standards figures for a year and region, with the programme targets this service owns.", ""]
    lines += [f"- **{k}** — {v}" for k, v in DEFINITIONS.items()]
    lines += [
        "",
        "Regions by GB/T 2260 prefix (`330000` province, `330100` city, `330106` county); an enterprise's "
        "region is the registry's, else its credit code's area code. Officials get their own region by "
        "default and may ask for any region under it. `group_by=city|county` adds one row per city or "
        "county with figures. `targets` holds, per programme key, the figure as `value` (decimal string; "
        "percent for rates), its `unit`, `definition` and the programme's `target`.",
    ]
    return "\n".join(lines)
