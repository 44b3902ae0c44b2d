"""How the standards service reads the registry: only through its published views (docs/contracts.md).

An enterprise's region is the directory's region_code; for a credit code the directory does not
know ("unmatched"), the area code inside the code (characters 3–8) stands in.
"""

from __future__ import annotations

DIRECTORY = "registry.enterprise_directory"
SIZES = "registry.enterprise_sizes"
SCALE_HISTORY = "registry.scale_status_history"


def region_of(code_sql: str, directory_alias: str) -> str:
    """SQL for the region of the enterprise `code_sql`, given a LEFT JOIN of the directory as alias."""
    return f"COALESCE({directory_alias}.region_code, substr({code_sql}, 3, 6))"
