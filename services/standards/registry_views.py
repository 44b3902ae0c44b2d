"""How the standards service reads the registry: only through its published views (docs/contracts.md).

An enterprise's region: `services.common.code_region` (the directory's, else the code's area digits).
"""

from __future__ import annotations

DIRECTORY = "registry.enterprise_directory"
SIZES = "registry.enterprise_sizes"
SCALE_HISTORY = "registry.scale_status_history"
