"""A worker without an Anthropic key never imports the client library: it took over a second
of every worker's and every CLI call's start (measured with ``python -X importtime``)."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
import forewarn.cli, forewarn.streams.app
from forewarn.config import Settings
from forewarn.policy import Policy
from forewarn.processors.audit import AuditTrail
from forewarn.streams.review import Review
Review(Settings(), Policy(), AuditTrail("k"))
print("anthropic" in sys.modules)
"""


def test_the_pipeline_imports_no_model_client_until_a_key_is_set() -> None:
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True, env={})
    assert out.stdout.strip() == "False", out.stderr
