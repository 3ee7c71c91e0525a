"""The service chart: complaints and mentions per minute against the expected band, incidents marked."""

from __future__ import annotations

from datetime import datetime

import altair as alt
import pandas as pd

def metric_name(metric: str) -> str:
    """The detection metric in words ('people reporting a problem'), from the one mapping the comms view,
    the report and the notifications use."""
    from detector.comms.facts import UNITS

    return UNITS.get(metric, metric.replace("_", " "))


def metric_title(metric: str) -> str:
    """The chart's axis: the metric per minute (a share is not per minute)."""
    return metric_name(metric) if metric == "complaint_share" else f"{metric_name(metric)} / min"


def chart_caption(series: pd.DataFrame, incidents: pd.DataFrame, official: pd.DataFrame, metric: str) -> str:
    """What :func:`service_chart` drew, and only that: a layer that is not drawn is not described."""
    parts = []
    if not series.empty:
        parts.append("Red line: " + metric_title(metric) + "; blue line: mentions / min. Grey dashed line: the "
                     "usual value the detector expected for each minute it judged, as it recorded it. Grey band: "
                     "from there up to its alert threshold.")
    if not incidents.empty:
        parts.append("Red spans: our incidents.")
    if not official.empty:
        parts.append("Purple spans: the provider's incidents.")
    return " ".join(parts) or "No data in this range."


def _spans(frame: pd.DataFrame, start: str, end: str, since: datetime, until: datetime, label: str) -> pd.DataFrame:
    if frame is None or frame.empty:
        return pd.DataFrame(columns=["start", "end", "what"])
    starts = pd.to_datetime(frame[start], utc=True).clip(lower=pd.Timestamp(since))
    ends = pd.to_datetime(frame[end], utc=True).fillna(pd.Timestamp(until)).clip(upper=pd.Timestamp(until))
    return pd.DataFrame({"start": starts, "end": ends, "what": [f"{label}: {t}" for t in frame.iloc[:, 0]]})


def service_chart(series: pd.DataFrame, incidents: pd.DataFrame, official: pd.DataFrame, metric: str,
                  since: datetime, until: datetime) -> alt.LayerChart:
    """Layers: our incidents (red spans), official incidents (purple spans), the band, the lines."""
    x = alt.X("start:T", title=None, scale=alt.Scale(domain=[since.isoformat(), until.isoformat()]))
    title = metric_title(metric)
    layers = []
    ours = _spans(incidents[["id", "opened_at", "resolved_at"]] if not incidents.empty else incidents,
                  "opened_at", "resolved_at", since, until, "our incident")
    theirs = _spans(official[["title", "started_at", "resolved_at"]] if not official.empty else official,
                    "started_at", "resolved_at", since, until, "official")
    for spans, colour in ((ours, "#e45756"), (theirs, "#8e6bbf")):
        if not spans.empty:
            layers.append(alt.Chart(spans).mark_rect(opacity=0.15, color=colour).encode(
                x="start:T", x2="end:T", tooltip=["what:N", "start:T", "end:T"]))
    data = series.copy()
    if not data.empty:
        data["start"] = pd.to_datetime(data["start"], utc=True)
        data["upper"] = data[["expected", "upper"]].max(axis=1)  # a band never below its expected value
    # The y axis follows the counts, not the band: a loose band must not flatten the signal into a line.
    peak = max([float(data[c].max()) for c in ("metric", "mentions", "expected") if not data.empty] + [1.0])
    y_scale = alt.Scale(domain=[0, peak * 1.25], clamp=True)
    base = alt.Chart(data).encode(x=x)
    layers.append(base.mark_area(opacity=0.25, color="#9aa5b1", clip=True).encode(
        y=alt.Y("expected:Q", title=title, scale=y_scale), y2="upper:Q",
        tooltip=[alt.Tooltip("start:T"), alt.Tooltip("expected:Q", format=".2f"), alt.Tooltip("upper:Q", format=".2f")]))
    layers.append(base.mark_line(color="#6b7785", strokeDash=[4, 3], strokeWidth=1, clip=True).encode(
        y=alt.Y("expected:Q", scale=y_scale),  # the detector's recorded expected value: what it compared with
        tooltip=[alt.Tooltip("start:T"), alt.Tooltip("expected:Q", format=".2f", title="usual (expected)")]))
    long = data.melt(id_vars=["start"], value_vars=["metric", "mentions"], var_name="series", value_name="value") \
        if not data.empty else pd.DataFrame(columns=["start", "series", "value"])
    long["series"] = long["series"].map({"metric": title, "mentions": "mentions / min"})
    colour = alt.Color("series:N", title=None, legend=alt.Legend(orient="top"),
                       scale=alt.Scale(domain=[title, "mentions / min"], range=["#d62728", "#4c78a8"]))
    for name, width in (("mentions / min", 1.2), (title, 2.2)):  # the metric drawn last, on top
        layers.append(alt.Chart(long[long["series"] == name]).mark_line(interpolate="step-after", strokeWidth=width,
                                                                         clip=True).encode(
            x=x, y=alt.Y("value:Q", title=title, scale=y_scale), color=colour,
            tooltip=["series:N", alt.Tooltip("start:T"), alt.Tooltip("value:Q", format=".2f")]))
    return alt.layer(*layers).properties(height=320)
