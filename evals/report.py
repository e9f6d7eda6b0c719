"""Eval reports for people and for CI: report.json, report.md, report.html (with a chart), JUnit
XML, and the comparison with a baseline report that names each regressed case.

A *suite* is one ``despatch eval`` run: one ``EvalReport`` per gold file, the answerer and model
that answered, and (with ``--baseline``) the comparison. ``report.json`` holds the whole suite and
is what a later run reads as its baseline.
"""

from __future__ import annotations

import html
import io
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from despatch.errors import InputError
from evals.scoring import CaseScore, risk_coverage

# Metrics shown in the chart: shares between 0 and 1 (counts and milliseconds are in the table).
_COUNTS = {"cases", "invalid_citations", "latency_p50_ms", "latency_p95_ms"}

# What failed, from the scorer's failure messages (evals/scoring.py), for JUnit's failure type.
_KINDS = [
    ("answered an unanswerable", "answered instead of refusing"),
    ("refused an answerable", "wrong refusal"),
    ("facts missing", "fact missing"),
    ("evidence not cited", "evidence not cited"),
    ("does not support", "unsupported citation"),
    ("citation", "invalid citation"),
    ("marker", "invalid citation"),
]


@dataclass
class EvalReport:
    gold: str
    answerer: str
    metrics: dict[str, float]
    thresholds: dict[str, float]
    breaches: list[str]
    by_tag: dict[str, dict[str, float]]
    cases: list[CaseScore] = field(default_factory=list)
    model: str = ""  # what answered: the LLM and its endpoint, or the extractive model file
    threshold: float | None = None  # the scorer's answer threshold (extractive answers)

    @property
    def passed(self) -> bool:
        return not self.breaches

    def curve(self) -> dict[str, Any]:
        """The risk-coverage curve of this run's cases and the point the scorer's threshold chose."""
        chosen = {
            "threshold": self.threshold,
            "precision": self.metrics.get("answer_precision", 0.0),
            "coverage": round(1 - self.metrics.get("false_refusal_rate", 0.0), 4),
        }
        return {"curve": risk_coverage(self.cases), "chosen": chosen}


def failure_kind(message: str) -> str:
    """The kind of a scorer failure message: fact missing, wrong refusal, invalid citation..."""
    return next((kind for prefix, kind in _KINDS if prefix in message), "failed")


@dataclass
class Comparison:
    """This run against an earlier one, case by case (a case is its gold file and id)."""

    baseline: str
    regressions: list[str] = field(default_factory=list)  # passed there, fails now
    fixed: list[str] = field(default_factory=list)  # failed there, passes now
    deltas: dict[str, dict[str, float]] = field(default_factory=dict)  # gold file -> metric -> change
    allowed: int = 0

    @property
    def ok(self) -> bool:
        return len(self.regressions) <= self.allowed


@dataclass
class Suite:
    """One ``despatch eval`` run over one or more gold files."""

    answerer: str
    model: str
    reports: list[EvalReport]
    comparison: Comparison | None = None

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.reports) and (self.comparison is None or self.comparison.ok)


def case_key(gold: str, case_id: str) -> str:
    return f"{gold}::{case_id}"


# -- baseline ------------------------------------------------------------------------------------
def load_baseline(path: Path) -> dict[str, Any]:
    """An earlier ``report.json`` (or the folder holding one)."""
    file = path / "report.json" if path.is_dir() else path
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(
            file, f"cannot read the baseline report ({exc.strerror}); pass --baseline DIR_OR_REPORT_JSON"
        ) from exc
    except json.JSONDecodeError as exc:
        raise InputError(
            file, f"the baseline report is not JSON (line {exc.lineno}); pass an earlier report.json"
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("sets"), list):
        raise InputError(
            file, 'not a despatch eval report (no "sets"); pass the report.json an earlier run wrote'
        )
    return data


def compare(suite: Suite, baseline: dict[str, Any], name: str, allowed: int = 0) -> Comparison:
    """Cases that passed in ``baseline`` and fail now, the reverse, and each metric's change."""
    before: dict[str, bool] = {}
    metrics_before: dict[str, dict[str, float]] = {}
    for entry in baseline["sets"]:
        gold = str(entry.get("gold"))
        metrics_before[gold] = {k: float(v) for k, v in (entry.get("metrics") or {}).items()}
        for case in entry.get("cases") or []:
            before[case_key(gold, str(case.get("id")))] = not case.get("failures")
    result = Comparison(baseline=name, allowed=allowed)
    for report in suite.reports:
        for case in report.cases:
            key = case_key(report.gold, case.id)
            if key not in before:
                continue
            if before[key] and case.failures:
                result.regressions.append(key)
            elif not before[key] and not case.failures:
                result.fixed.append(key)
        old = metrics_before.get(report.gold)
        if old is not None:
            result.deltas[report.gold] = {
                m: round(v - old[m], 4) for m, v in report.metrics.items() if m in old
            }
    return result


# -- writing -------------------------------------------------------------------------------------
def write_suite(suite: Suite, out_dir: Path, junit: Path | None = None) -> None:
    """report.json, report.md and report.html in ``out_dir``; JUnit XML to ``junit`` if given."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {
        "answerer": suite.answerer,
        "model": suite.model,
        "passed": suite.passed,
        "sets": [{**asdict(r), "passed": r.passed, "risk_coverage": r.curve()} for r in suite.reports],
        "comparison": None
        if suite.comparison is None
        else {**asdict(suite.comparison), "ok": suite.comparison.ok},
    }
    text = json.dumps(data, indent=2, ensure_ascii=False)
    (out_dir / "report.json").write_text(text, encoding="utf-8")
    (out_dir / "report.md").write_text(markdown(suite), encoding="utf-8")
    (out_dir / "report.html").write_text(to_html(suite), encoding="utf-8")
    if junit is not None:
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_bytes(junit_xml(suite))


def _limit(report: EvalReport, metric: str) -> tuple[str, float] | None:
    if metric in report.thresholds:
        return ">=", report.thresholds[metric]
    if f"max_{metric}" in report.thresholds:
        return "<=", report.thresholds[f"max_{metric}"]
    return None


def _ok(value: float, limit: tuple[str, float] | None) -> bool | None:
    if limit is None:
        return None
    return value >= limit[1] if limit[0] == ">=" else value <= limit[1]


def markdown(suite: Suite) -> str:
    lines: list[str] = []
    for report in suite.reports:
        delta = suite.comparison.deltas.get(report.gold, {}) if suite.comparison else {}
        lines += [
            f"# Evaluation: {report.gold} ({report.answerer})",
            "",
            f"**{'PASSED' if report.passed else 'FAILED'}** · model: {report.model or suite.model}",
            "",
            "| metric | value | threshold | change |",
            "| --- | --- | --- | --- |",
        ]
        for name, value in report.metrics.items():
            limit = _limit(report, name)
            shown = "" if limit is None else f"{limit[0]} {limit[1]:g}"
            change = f"{delta[name]:+g}" if name in delta else ""
            lines.append(f"| {name} | {value:g} | {shown} | {change} |")
        if report.breaches:
            lines += ["", "Breaches:", *[f"- {b}" for b in report.breaches]]
        lines += ["", "## By tag", "", "| tag | cases | passed | pass rate |", "| --- | --- | --- | --- |"]
        for tag, row in report.by_tag.items():
            lines.append(f"| {tag} | {row['cases']:g} | {row['passed']:g} | {row['pass_rate']:.2f} |")
        failed = [c for c in report.cases if c.failures]
        lines += ["", f"## Failed cases ({len(failed)})", ""]
        for c in failed:
            lines.append(f"- **{c.id}** {c.question!r}: {'; '.join(c.failures)}")
            lines.append(f"  - answer: {c.answer[:300]!r}")
        lines.append("")
    if suite.comparison is not None:
        comp = suite.comparison
        lines += [
            f"# Against the baseline {comp.baseline}",
            "",
            f"**{len(comp.regressions)} regressions** (allowed: {comp.allowed}), {len(comp.fixed)} fixed",
            "",
            *[f"- regressed: {k}" for k in comp.regressions],
            *[f"- fixed: {k}" for k in comp.fixed],
            "",
        ]
    return "\n".join(lines)


def junit_xml(suite: Suite) -> bytes:
    """One ``<testcase>`` per gold case (classname: the gold file), and one per threshold."""
    regressed = set(suite.comparison.regressions) if suite.comparison else set()
    root = ET.Element("testsuites", name="despatch eval")
    total = failures = 0
    for report in suite.reports:
        failed = [c for c in report.cases if c.failures]
        node = ET.SubElement(
            root,
            "testsuite",
            name=report.gold,
            tests=str(len(report.cases)),
            failures=str(len(failed)),
            errors="0",
            time=f"{sum(c.latency_ms for c in report.cases) / 1000:.3f}",
        )
        props = ET.SubElement(node, "properties")
        for key, value in (("answerer", report.answerer), ("model", report.model or suite.model)):
            ET.SubElement(props, "property", name=key, value=value)
        for case in report.cases:
            tc = ET.SubElement(
                node, "testcase", name=case.id, classname=report.gold, time=f"{case.latency_ms / 1000:.3f}"
            )
            if case.failures:
                regression = case_key(report.gold, case.id) in regressed
                message = ("REGRESSION: " if regression else "") + "; ".join(case.failures)
                kinds = sorted({failure_kind(f) for f in case.failures})
                fail = ET.SubElement(tc, "failure", message=message, type=", ".join(kinds))
                fail.text = _case_text(case)
        gated = ET.SubElement(
            root,
            "testsuite",
            name=f"{report.gold} thresholds",
            tests=str(len(report.thresholds)),
            failures=str(len(report.breaches)),
            errors="0",
        )
        for name, limit in report.thresholds.items():
            metric = name.removeprefix("max_")
            tc = ET.SubElement(gated, "testcase", name=name, classname=f"{report.gold} thresholds")
            got = report.metrics.get(metric)
            op = "<=" if name.startswith("max_") else ">="
            if got is None or not _ok(got, (op, limit)):
                message = f"{metric} = {got} (needs {op} {limit:g})"
                ET.SubElement(tc, "failure", message=message, type="threshold")
        total += len(report.cases) + len(report.thresholds)
        failures += len(failed) + len(report.breaches)
    root.set("tests", str(total))
    root.set("failures", str(failures))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _case_text(case: CaseScore) -> str:
    lines = [f"Question: {case.question}", f"Answer: {case.answer}"]
    for c in case.citations:
        lines.append(f"[{c.get('n')}] {c.get('title')}: {c.get('quote')}")
    return "\n".join(lines)


# -- HTML ----------------------------------------------------------------------------------------
_CSS = """
body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}
.pass{color:#0a7d32;font-weight:600}.fail{color:#b00020;font-weight:600}
.case{border-left:4px solid #b00020;padding:.3rem .8rem;margin:1rem 0;background:#fafafa}
.quote{color:#444}figure{margin:1rem 0}
"""


def _inline_svg(fig: Any) -> str:
    """A matplotlib figure as an inline ``<svg>`` element (no date, so reruns are identical); closes it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


def chart_svg(report: EvalReport) -> str:
    """The report's share metrics against their thresholds, as an inline SVG bar chart."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [m for m, v in report.metrics.items() if m not in _COUNTS and 0.0 <= v <= 1.0]
    values = [report.metrics[m] for m in names]
    limits = [_limit(report, m) for m in names]
    colors = [
        "#9e9e9e" if lim is None else ("#2e7d32" if _ok(v, lim) else "#c62828")
        for v, lim in zip(values, limits, strict=True)
    ]
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "despatch"}):
        fig, ax = plt.subplots(figsize=(8, 0.32 * len(names) + 1.2))
        rows = range(len(names))
        ax.barh(rows, values, color=colors)
        for row, lim in zip(rows, limits, strict=True):
            if lim is not None:
                ax.plot([lim[1], lim[1]], [row - 0.45, row + 0.45], color="black", linewidth=2)
        ax.set_yticks(list(rows), names)
        ax.invert_yaxis()
        ax.set_xlim(0, 1.05)
        ax.set_xlabel("value (bar); threshold (black line); green passes, red breaches, grey ungated")
        ax.set_title(f"{report.gold}: metrics against thresholds")
        return _inline_svg(fig)


def curve_svg(report: EvalReport) -> str:
    """Answer precision against coverage as the threshold moves, and the chosen point, as SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = report.curve()
    points = data["curve"]
    chosen = data["chosen"]
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "despatch"}):
        fig, ax = plt.subplots(figsize=(6, 3.6))
        ax.plot(
            [q["coverage"] for q in points], [q["precision"] for q in points], marker=".", color="#1565c0"
        )
        ax.plot([chosen["coverage"]], [chosen["precision"]], marker="o", markersize=9, color="#c62828")
        if "answer_precision" in report.thresholds:
            ax.axhline(report.thresholds["answer_precision"], color="black", linewidth=1, linestyle="--")
        label = "" if chosen["threshold"] is None else f" (threshold {chosen['threshold']:g})"
        ax.annotate(
            f"this run{label}",
            (chosen["coverage"], chosen["precision"]),
            textcoords="offset points",
            xytext=(6, -12),
        )
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("coverage: share of answerable questions answered")
        ax.set_ylabel("precision of answers given")
        ax.set_title(f"{report.gold}: risk-coverage as the answer threshold moves")
        return _inline_svg(fig)


def to_html(suite: Suite) -> str:
    e = html.escape
    verdict = "PASSED" if suite.passed else "FAILED"
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Despatch eval: {e(verdict)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Despatch eval: <span class='{'pass' if suite.passed else 'fail'}'>{verdict}</span></h1>",
        f"<p>Answerer: <b>{e(suite.answerer)}</b> · model: <b>{e(suite.model)}</b></p>",
    ]
    if suite.comparison is not None:
        comp = suite.comparison
        parts.append(
            f"<h2>Against the baseline</h2><p>{e(comp.baseline)}: "
            f"<span class='{'pass' if comp.ok else 'fail'}'>{len(comp.regressions)} regressions</span> "
            f"(allowed {comp.allowed}), {len(comp.fixed)} fixed.</p>"
        )
        for label, keys in (("Regressed", comp.regressions), ("Fixed", comp.fixed)):
            if keys:
                parts.append(f"<p>{label}:</p><ul>" + "".join(f"<li>{e(k)}</li>" for k in keys) + "</ul>")
    for report in suite.reports:
        delta = suite.comparison.deltas.get(report.gold, {}) if suite.comparison else {}
        ok = report.passed
        parts += [
            f"<section><h2>{e(report.gold)}: <span class='{'pass' if ok else 'fail'}'>"
            f"{'passed' if ok else 'failed'}</span></h2>",
            f"<figure class='chart'>{chart_svg(report)}</figure>",
            f"<figure class='curve'>{curve_svg(report)}</figure>",
            "<table><tr><th>metric</th><th>value</th><th>threshold</th><th>status</th><th>change</th></tr>",
        ]
        for name, value in report.metrics.items():
            limit = _limit(report, name)
            status = _ok(value, limit)
            shown = "" if limit is None else f"{limit[0]} {limit[1]:g}"
            cls = "" if status is None else ("pass" if status else "fail")
            word = "" if status is None else ("ok" if status else "BREACH")
            change = f"{delta[name]:+g}" if name in delta else ""
            parts.append(
                f"<tr><td>{e(name)}</td><td>{value:g}</td><td>{e(shown)}</td>"
                f"<td class='{cls}'>{word}</td><td>{change}</td></tr>"
            )
        parts.append(
            "</table><h3>By tag</h3><table><tr><th>tag</th><th>cases</th><th>passed</th><th>rate</th></tr>"
        )
        for tag, row in report.by_tag.items():
            parts.append(
                f"<tr><td>{e(tag)}</td><td>{row['cases']:g}</td><td>{row['passed']:g}</td>"
                f"<td>{row['pass_rate']:.2f}</td></tr>"
            )
        failed = [c for c in report.cases if c.failures]
        parts.append(f"</table><h3>Failing cases ({len(failed)})</h3>")
        for c in failed:
            cites = "".join(
                f"<li>[{e(str(x.get('n')))}] {e(str(x.get('title')))}: "
                f"<span class='quote'>“{e(str(x.get('quote')))}”</span></li>"
                for x in c.citations
            )
            parts.append(
                f"<div class='case' id='{e(_anchor(report.gold, c.id))}'>"
                f"<p><b>{e(c.id)}</b>: {e(c.question)}</p>"
                f"<p>Failed: {e('; '.join(c.failures))}</p><p>Answer: {e(c.answer)}</p>"
                f"<ul>{cites}</ul></div>"
            )
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _anchor(gold: str, case_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", f"{gold}-{case_id}")
