"""The national scheme's rule sets (工信部企业〔2022〕63号, services/registry/data/rule_sets.json)
evaluated by pool/rules.py: for each, an enterprise that passes, one that fails and one that
qualifies by an alternative; a criterion the registry does not record is missing_data, by name,
never a pass. Screening year 2022 ("上年度"); money in yuan; the arithmetic is in the comments."""

from datetime import date

import pytest

from services.registry.pool.rules import TRACKED, evaluate, leaves
from services.registry.pool.tiers import TIERS
from services.registry.reference.data import rule_sets

ENTERPRISE = {"industry_code": "3484", "established_on": date(2008, 1, 1), "titles": []}
NOT_TRACKED = "(not tracked by the registry)"


def run(rule_set_id, rows, **enterprise):
    outcome, results = evaluate(rule_sets()[rule_set_id], 2022, {**ENTERPRISE, **enterprise}, rows)
    return outcome, flatten(results)


def flatten(results):
    out = {}
    for r in results:
        out[r["id"]] = r
        out.update(flatten(r.get("criteria") or []))
    return out


def test_every_rule_set_names_its_source_and_whether_it_is_settled():
    for rs in rule_sets().values():
        assert rs["source"] and isinstance(rs["settled"], bool), rs["id"]
        assert set(rs["tiers"]) <= set(TIERS)
        # Every indicator a criterion reads is recorded, or is reported as not tracked.
        for c in leaves(rs["criteria"]):
            assert {"id", "indicator", "op", "threshold", "years"} <= set(c), c
    assert {rs["tiers"][0] for rs in rule_sets().values()} >= {"innovative", "specialized", "little_giant"}


# ---- 专精特新中小企业 (附件2) ----------------------------------------------------------------

SPECIALIZED = "specialized_sme-2022"


def specialized_row(**kw):
    # medium; 5 years in its niche; R&D 2,000,000 of revenue 50,000,000 = 4.00 %; score 72.
    return {
        "size_class": "medium",
        "niche_years": 5,
        "rd_expense": "2000000",
        "revenue": "50000000",
        "evaluation_score": "72",
        **kw,
    }


def test_specialized_passes_on_the_main_path():
    outcome, r = run(SPECIALIZED, {2022: specialized_row()})
    assert outcome == "eligible"
    assert r["SSME-3"]["values"] == {"2022": "4.00"}
    assert (r["SSME-4"]["result"], r["SSME-4.1"]["result"]) == ("pass", "pass")
    assert (r["SSME-5"]["result"], r["SSME-5.1"]["result"]) == ("pass", "pass")


def test_specialized_fails_below_3_percent_r_and_d_and_when_large():
    # 1,200,000 ÷ 60,000,000 = 2.00 % < 3 %.
    outcome, r = run(SPECIALIZED, {2022: specialized_row(rd_expense="1200000", revenue="60000000")})
    assert outcome == "ineligible" and r["SSME-3"]["result"] == "fail"
    # The SME prerequisite (第二条): a large enterprise fails whatever else holds.
    outcome, r = run(SPECIALIZED, {2022: specialized_row(size_class="large")})
    assert outcome == "ineligible" and r["SSME-0"]["result"] == "fail"


def test_specialized_by_two_year_average_r_and_d_instead_of_the_score():
    # Score 55 < 60 fails SSME-5.1; R&D 12,000,000 (2022) and 9,000,000 (2021): mean 10,500,000
    # ≥ 10,000,000 passes SSME-5.3; 12,000,000 ÷ 200,000,000 = 6.00 % ≥ 3 %.
    rows = {
        2022: specialized_row(evaluation_score="55", rd_expense="12000000", revenue="200000000"),
        2021: {"rd_expense": "9000000"},
    }
    outcome, r = run(SPECIALIZED, rows)
    assert outcome == "eligible"
    assert r["SSME-5.1"]["result"] == "fail"
    assert r["SSME-5.3"]["result"] == "pass"
    assert r["SSME-5.3"]["values"] == {"2022": "12000000", "2021": "9000000", "mean": "10500000.00"}
    assert r["SSME-5"]["result"] == "pass" and r["SSME-5"]["missing"] == []


def test_specialized_equity_path_is_missing_data_not_a_pass_or_a_fail():
    # Revenue 8,000,000 < 10,000,000: only the equity path (≥ 20,000,000 in 2 years) is left,
    # which the registry does not record → SSME-4 missing_data, the outcome incomplete.
    outcome, r = run(SPECIALIZED, {2022: specialized_row(revenue="8000000", rd_expense="1000000")})
    assert outcome == "incomplete"
    assert r["SSME-4.1"]["result"] == "fail"
    assert r["SSME-4"]["result"] == "missing_data"
    assert r["SSME-4"]["missing"] == [f"equity_financing_2y {NOT_TRACKED}"]


# ---- 创新型中小企业 (附件1) ------------------------------------------------------------------

INNOVATIVE = "innovative_sme-2022"


def test_innovative_passes_by_a_high_tech_title():
    outcome, r = run(INNOVATIVE, {2022: {"size_class": "small"}}, titles=["high_tech"])
    assert outcome == "eligible"
    assert r["INN-1.3"]["result"] == "pass" and r["INN-1"]["result"] == "pass"


def test_innovative_fails_for_a_large_enterprise():
    outcome, r = run(INNOVATIVE, {2022: {"size_class": "large"}}, titles=["high_tech"])
    assert outcome == "ineligible" and r["INN-0"]["result"] == "fail"


def test_innovative_score_alone_is_incomplete_the_sub_scores_are_not_recorded():
    # Score 80 ≥ 60, but the sub-score minimums (创新能力 ≥ 20, 成长性 ≥ 15, 专业化 ≥ 15) are not
    # recorded, and without a high_tech title no alternative passes: incomplete, not eligible.
    outcome, r = run(INNOVATIVE, {2022: {"size_class": "small", "evaluation_score": "80"}})
    assert outcome == "incomplete"
    assert r["INN-1.1a"]["result"] == "pass"
    assert r["INN-1.1b"]["missing"] == [f"innovation_score {NOT_TRACKED}"]
    assert r["INN-1.3"]["result"] == "fail"  # no high_tech title
    assert f"equity_financing_3y {NOT_TRACKED}" in r["INN-1"]["missing"]
    # A score below 60 fails the score path; the untracked alternatives still leave it open.
    outcome, r = run(INNOVATIVE, {2022: {"size_class": "small", "evaluation_score": "50"}})
    assert (outcome, r["INN-1.1"]["result"], r["INN-1"]["result"]) == ("incomplete", "fail", "missing_data")


# ---- 专精特新"小巨人" (附件3) ----------------------------------------------------------------

LITTLE_GIANT = "little_giant-2022"


def giant_rows(revenue_2022="150000000", rd_2022="6000000", revenue_2021="130000000", rd_2021="5200000"):
    # Main business 100,000,000 (2020) → 110,000,000 (2021, +10.00 %) → 121,000,000 (2022,
    # +10.00 %): mean growth 10.00 % ≥ 5 %; share 121,000,000 ÷ 150,000,000 = 80.67 % ≥ 70 %.
    # R&D 6,000,000 ÷ 150,000,000 = 4.00 % (2022), 5,200,000 ÷ 130,000,000 = 4.00 % (2021).
    return {
        2022: {
            "size_class": "medium",
            "niche_years": 6,
            "revenue": revenue_2022,
            "main_business_revenue": "121000000",
            "rd_expense": rd_2022,
            "invention_patents": 3,
        },
        2021: {"revenue": revenue_2021, "main_business_revenue": "110000000", "rd_expense": rd_2021},
        2020: {"main_business_revenue": "100000000"},
    }


def test_little_giant_passes_everything_the_registry_records():
    outcome, r = run(LITTLE_GIANT, giant_rows(), titles=["specialized_sme"])
    for cid in ("LG-0", "LG-P", "LG-1", "LG-2", "LG-3", "LG-4.1a", "LG-4.1a1", "LG-4.1c"):
        assert r[cid]["result"] == "pass", cid
    assert r["LG-2"]["values"] == {"2022": "80.67"}
    assert r["LG-3"]["values"] == {"2022": "10.00", "2021": "10.00", "mean": "10.00"}
    # What is left is exactly what the reviewer judges: never a silent pass.
    assert outcome == "incomplete"
    missing = {cid: r[cid]["missing"] for cid in ("LG-4", "LG-5", "LG-6", "LG-7")}
    assert missing == {
        "LG-4": [
            f"research_institution {NOT_TRACKED}",
            f"science_award_3y_ranked {NOT_TRACKED}",
            f"makers_china_top50_3y {NOT_TRACKED}",
        ],
        "LG-5": [f"management_system {NOT_TRACKED}"],
        "LG-6": [f"supply_chain_position {NOT_TRACKED}"],
        "LG-7": [f"product_field {NOT_TRACKED}"],
    }


def test_little_giant_fails_without_the_specialized_title_or_on_main_business_share():
    outcome, r = run(LITTLE_GIANT, giant_rows())
    assert outcome == "ineligible" and r["LG-P"]["result"] == "fail"
    rows = giant_rows()
    rows[2022]["main_business_revenue"] = "90000000"  # 90,000,000 ÷ 150,000,000 = 60.00 % < 70 %
    outcome, r = run(LITTLE_GIANT, rows, titles=["specialized_sme"])
    assert outcome == "ineligible" and r["LG-2"]["result"] == "fail"


def test_little_giant_middle_revenue_band_is_an_alternative_r_and_d_path():
    # Revenue 80,000,000 (5000万–1亿): R&D 5,600,000 ÷ 80,000,000 = 7.00 % and 4,550,000 ÷
    # 70,000,000 = 6.50 %, both ≥ 6 %: the middle band passes where the ≥ 1亿 band fails.
    rows = giant_rows(revenue_2022="80000000", rd_2022="5600000", revenue_2021="70000000", rd_2021="4550000")
    rows[2022]["main_business_revenue"] = "64000000"  # 80.00 % of revenue
    rows[2021]["main_business_revenue"] = "58000000"
    rows[2020]["main_business_revenue"] = "52000000"
    outcome, r = run(LITTLE_GIANT, rows, titles=["specialized_sme"])
    assert r["LG-4.1a1"]["result"] == "fail"  # revenue < 100,000,000
    assert r["LG-4.1a2"]["result"] == "pass"
    assert r["LG-4.1a2d"]["values"] == {"2022": "7.00", "2021": "6.50"}
    assert r["LG-4.1a"]["result"] == "pass"
    # 4,550,000 ÷ 70,000,000 = 6.50 %; with 3,500,000 it is 5.00 % < 6 %: the band fails, the
    # below-5000万 band does not apply (revenue ≥ 50,000,000) → the R&D criterion fails outright.
    rows[2021]["rd_expense"] = "3500000"
    outcome, r = run(LITTLE_GIANT, rows, titles=["specialized_sme"])
    assert r["LG-4.1a"]["result"] == "fail" and r["LG-4.1"]["result"] == "fail"


@pytest.mark.parametrize("indicator", ["equity_financing_2y", "research_institution", "product_field"])
def test_untracked_indicators_are_not_recorded_anywhere(indicator):
    assert indicator not in TRACKED
