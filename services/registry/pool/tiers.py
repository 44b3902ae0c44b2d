"""The cultivation pool's tiers, in order (domain.md §5): the programme's own entry tier, the
national scheme's three (工信部企业〔2022〕63号: 创新型中小企业 → 专精特新中小企业 → 专精特新"小巨人"),
then Zhejiang's two (隐形冠军培育企业 → 隐形冠军). The one list every other definition of a tier
(check constraints, request schemas, statistics, exports) is built from."""

from __future__ import annotations

from typing import Literal

TIERS = ("seedling", "innovative", "specialized", "little_giant", "champion_candidate", "champion")
Tier = Literal["seedling", "innovative", "specialized", "little_giant", "champion_candidate", "champion"]
ORDER = {t: i for i, t in enumerate(TIERS, 1)}
NAMES_ZH = {
    "seedling": "雏鹰企业",
    "innovative": "创新型中小企业",
    "specialized": "专精特新中小企业",
    "little_giant": "专精特新“小巨人”企业",
    "champion_candidate": "隐形冠军培育企业",
    "champion": "隐形冠军企业",
}
# The tier check constraint of every table holding a tier.
CHECK = "tier IN (" + ", ".join(f"'{t}'" for t in TIERS) + ")"

assert set(Tier.__args__) == set(TIERS)  # type: ignore[attr-defined]
