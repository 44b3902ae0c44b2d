"""docs/definitions.md names every bulletin key once, with the settled flag the data holds
(services/registry/data/programme_targets.json, the one home of the flag)."""

import re
from pathlib import Path

from services.registry.targets.data import indicator_rows

PAGE = Path(__file__).resolve().parents[1] / "docs" / "definitions.md"


def test_every_key_is_defined_once_with_the_datas_settled_flag():
    rows = re.findall(r"^\| ([a-z_]+) \|.*\| (yes|no)\b[^|]*\|$", PAGE.read_text("utf-8"), re.M)
    documented = [key for key, _ in rows]
    indicators = [r for r in indicator_rows() if r["programme"] == "chuying-2022"]
    assert documented == [r["key"] for r in indicators]  # every key, once, in the bulletin's order
    assert dict(rows) == {r["key"]: "yes" if r["settled"] else "no" for r in indicators}
