"""JUnit XML: one test case per rule and component, for CI systems that show JUnit."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from bomguard.report.data import ReportData

__all__ = ["render_junit"]


def render_junit(data: ReportData) -> bytes:
    """Each rule a suite; each PyPI component a case in it, failed where it was violated."""
    suites = ET.Element("testsuites", name="bomguard", tests="0", failures="0")
    total = failures = 0
    for rule in data.rules:
        failed = {v.get("component", ""): v for v in rule.violations}
        waived = {w.get("component", ""): w for w in rule.waived}
        suite = ET.SubElement(suites, "testsuite", name=f"{rule.policy}/{rule.rule}")
        count = fails = skipped = 0
        for component in data.components:
            label = component.purl or f"{component.name}@{component.version}"
            case = ET.SubElement(
                suite, "testcase", name=label, classname=f"bomguard.{rule.policy}.{rule.rule}"
            )
            count += 1
            if label in failed:
                v = failed[label]
                kind = "failure" if rule.severity == "error" else "skipped"
                node = ET.SubElement(case, kind, message=v.get("message", ""))
                node.set("type", rule.severity)
                node.text = v.get("message", "")
                if kind == "failure":
                    fails += 1
                else:
                    skipped += 1
            elif label in waived:
                ET.SubElement(case, "skipped", message=f"waived: {waived[label].get('reason', '')}")
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
