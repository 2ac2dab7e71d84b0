"""Audit every locked dependency (all groups) for known vulnerabilities with pip-audit.

Exit 1 if any dependency has a known vulnerability, or if only some could be looked up. If no
lookup at all succeeded, the vulnerability service is unreachable from this machine (pip-audit
asks pypi.org's per-version JSON API; some networks block it): that is said loudly, and it fails
only with AUDIT_REQUIRED=1, because it says nothing about the dependencies themselves.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UV = ROOT / "infra" / "native" / "uv.sh"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        requirements = Path(tmp) / "requirements.txt"
        subprocess.run(
            [UV, "export", "--frozen", "--all-groups", "--no-emit-project", "--quiet",
             "--format", "requirements-txt", "-o", str(requirements)],
            cwd=ROOT, check=True,
        )  # fmt: skip
        done = subprocess.run(
            [ROOT / ".venv" / "bin" / "pip-audit", "--disable-pip", "--require-hashes",
             "--format", "json", "--progress-spinner", "off", "-r", str(requirements)],
            cwd=ROOT, capture_output=True, text=True,
        )  # fmt: skip
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        print(done.stdout, done.stderr, sep="\n", file=sys.stderr)
        return 1
    dependencies = report["dependencies"]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if "skip_reason" in d]
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
            print(
                f"VULNERABLE {dependency['name']} {dependency['version']}: {vuln['id']} ({fixes})"
            )
    if vulnerable:
        return 1
    if skipped and len(skipped) == len(dependencies):
        print(
            f"DEPENDENCY AUDIT NOT DONE: none of the {len(dependencies)} locked dependencies "
            "could be looked up (the vulnerability service is unreachable from this machine: "
            f"{skipped[0]['skip_reason']})"
        )
        return 1 if os.environ.get("AUDIT_REQUIRED") == "1" else 0
    for dependency in skipped:
        print(f"NOT AUDITED {dependency['name']}: {dependency['skip_reason']}")
    if skipped:
        return 1
    print(f"pip-audit: {len(dependencies)} locked dependencies, no known vulnerabilities")
    return 0


if __name__ == "__main__":
    sys.exit(main())
