"""The injection model on benign requests from elsewhere: IFBench, MT-Bench's first turns,
AlpacaEval's helpful_base and AgentBench's OS tasks (pinned PyPI wheels; no training run reads
them), scored at the shipped user threshold by `models/false_positives.py`. The shipped model
flags 182 of the 650 (docs/guardrails.md: too many to block user messages on) and scores 5 over
its user block threshold (what `injection = "block"` blocks by default); these ceilings sit just
over that, so a model or featuriser change that flags or blocks more benign requests fails CI."""

import json
import subprocess
import sys

from conftest import BIN_DIR, REPO

# Measured with the shipped model (docs/guardrails.md): 182 of 650 flagged, 5 blocked.
MAX_FLAGGED = 190
MAX_BLOCKED = 8


def test_benign_requests_from_elsewhere_are_flagged_no_more_than_measured(tmp_path):
    out = tmp_path / "fp.json"
    subprocess.run(
        [sys.executable, str(REPO / "models" / "false_positives.py"), "--binary",
         str(BIN_DIR / "warden-dataplane"), "--json", str(out)],
        check=True, capture_output=True, timeout=600,
    )
    figures = json.loads(out.read_text())
    assert figures["requests"] == 650, figures
    assert figures["by_set"]["ifbench"]["requests"] == 300, figures
    assert figures["flagged"] <= MAX_FLAGGED, figures
    assert figures["blocked"] <= MAX_BLOCKED, figures
