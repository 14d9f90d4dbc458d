"""Write params.yaml with every knob at its default, keeping values already set in the file.

Run after adding a settings field: ``python scripts/write_params.py`` (``--prune`` drops keys that
are no longer settings). A test checks that params.yaml
lists every field of the settings object.
"""

import sys
from pathlib import Path
from typing import Any

import yaml

from segmint.settings import Settings, load_settings


def _merge(defaults: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in defaults.items():
        if isinstance(value, dict) and isinstance(current.get(key), dict) and key != "offers":
            out[key] = _merge(value, current[key])
        else:
            out[key] = current.get(key, value)
    return out


if __name__ == "__main__":
    path = Path("params.yaml")
    current = yaml.safe_load(path.read_text()) if path.exists() else {}
    if "--prune" not in sys.argv:
        load_settings(path)  # the current file must validate before it is rewritten (or --prune)
    defaults = Settings().model_dump(by_alias=True, mode="json")
    merged = _merge(defaults, current or {})
    header = "# Every knob of segmint, one section per stage (validated by segmint/settings.py).\n"
    path.write_text(header + yaml.safe_dump(merged, sort_keys=False, width=110, default_flow_style=False))
    print("wrote params.yaml")
