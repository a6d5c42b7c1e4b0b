"""JUnit XML: one test case per rule and subject, for CI systems that show JUnit.

Every violation is a failing case, whatever its severity and scope, so that GitLab and
Jenkins never show green where the verdict names a violation: a component-scope rule has
a case per PyPI component, an sbom-scope rule one case for the whole SBOM (``(sbom)``),
and a violation of a subject not among those (e.g. two components sharing a purl) gets a
case of its own. The ``type`` of a failure is the rule's severity (``error`` fails the
verdict; ``warning`` and ``info`` do not). Waived violations are skipped cases.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from bomguard.policy.model import SBOM_SUBJECT
from bomguard.report.data import ReportData

__all__ = ["render_junit"]


def render_junit(data: ReportData) -> bytes:
    """Each rule a suite; each subject a case in it, failed where it was violated."""
    suites = ET.Element("testsuites", name="bomguard", tests="0", failures="0")
    total = failures = 0
    labels = [c.purl or f"{c.name}@{c.version}" for c in data.components]
    for rule in data.rules:
        violated: dict[str, list[dict[str, str]]] = {}
        for v in rule.violations:
            violated.setdefault(v.get("component", ""), []).append(v)
        waived = {w.get("component", ""): w for w in rule.waived}
        subjects = [SBOM_SUBJECT] if rule.scope == "sbom" else list(dict.fromkeys(labels))
        subjects += [s for s in violated if s not in subjects]
        suite = ET.SubElement(suites, "testsuite", name=f"{rule.policy}/{rule.rule}")
        count = fails = skipped = 0
        classname = f"bomguard.{rule.policy}.{rule.rule}"
        for subject in subjects:
            for v in violated.get(subject) or [{}]:
                case = ET.SubElement(suite, "testcase", name=subject or "(unnamed)")
                case.set("classname", classname)
                count += 1
                if v:
                    severity = v.get("severity") or rule.severity
                    message = v.get("message") or rule.description or rule.rule
                    node = ET.SubElement(case, "failure", message=f"{severity}: {message}")
                    node.set("type", severity)
                    node.text = message
                    fails += 1
                elif subject in waived:
                    reason = waived[subject].get("reason", "")
                    ET.SubElement(case, "skipped", message=f"waived: {reason}")
                    skipped += 1
        suite.set("tests", str(count))
        suite.set("failures", str(fails))
        suite.set("skipped", str(skipped))
        suite.set("errors", "0")
        total += count
        failures += fails
    suites.set("tests", str(total))
    suites.set("failures", str(failures))
    ET.indent(suites)
    body: bytes = ET.tostring(suites, encoding="utf-8", xml_declaration=True)
    return body + b"\n"
