"""Write dvc.yaml from the stage registry in tasks/stages.py (the one description of the DAG)."""

from pathlib import Path

import yaml

from tasks.stages import dvc_plots, dvc_stages

HEADER = "# Generated from tasks/stages.py by `make dvc.yaml`; a test checks they agree.\n"

if __name__ == "__main__":
    text = yaml.safe_dump({"stages": dvc_stages(), "plots": dvc_plots()}, sort_keys=False, width=110)
    Path("dvc.yaml").write_text(HEADER + text)
    print("wrote dvc.yaml")
