"""How the registry counts the figures it reports against the programme targets it owns (the
targets themselves are data: services/common/targets.py)."""

from __future__ import annotations

DEFINITIONS = {
    "tech_smes": "科技型中小企业: enterprises holding an active tech_sme title",
    "net_new_above_scale": (
        "净增小升规企业: industrial (B, C, D) enterprises that went from below to above scale between the "
        "end of the programme baseline year (2019 by default, unsettled) and the end of the year, minus "
        "those above at the baseline and below at the year end; first-time-above entrants (新建投产) "
        "are listed, not counted"
    ),
    "champion_candidates": "入库培育隐形冠军企业: enterprises in the pool at tier champion_candidate",
    "champions": "隐形冠军企业 (about 200): enterprises in the pool at tier champion",
    "cloud_enterprises": "企业上云 (cumulative): enterprises that have reported on_cloud for any year up to the year",
    "champion_cnc_rate": (
        "隐形冠军及培育企业装备数控化率: Σ NC equipment ÷ Σ production equipment over champion and "
        "champion_candidate enterprises"
    ),
    "high_tech": "高新技术企业: enterprises holding an active high_tech title",
    "parks": "小微企业园 (cumulative): parks opened by the end of the year",
    "park_tenants": "入园小微企业: distinct enterprises with a tenancy in force at the end of the year",
    "star_parks": "四星、五星级小微企业园: parks rated 4 or 5 stars",
    "national_demo_bases": "国家级小微企业创业创新示范基地: parks with national_demo_base true, opened by the end of the year",
    "service_institutions": (
        "省级以上示范服务机构(平台): service institutions and platforms recognised by the end of the year"
    ),
    "county_platform_coverage": (
        "公共服务平台网络县(市、区)覆盖率: current counties of the region with at least one platform ÷ all its "
        "current counties × 100"
    ),
    "industrial_apps": "工业APP开发集成: reported figure (POST /v1/reported-figures), its source document named",
    "tech_trade": "技术交易额: reported figure (POST /v1/reported-figures), its source document named",
    "export_support_funds": (
        "省财政外贸出口支持资金: reported figure (POST /v1/reported-figures), its source document named"
    ),
    "special_credit_fund": (
        "稳外贸稳外资专项信贷资金: reported figure (POST /v1/reported-figures), its source document named"
    ),
    "customs_clearance_time": (
        "整体通关时间压缩比例: reported figure (POST /v1/reported-figures), its source document named"
    ),
}
