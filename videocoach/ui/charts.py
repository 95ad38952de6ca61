"""Altair charts for the review pages, built from the metrics dataclasses (through the plain rows
:mod:`videocoach.ui.review` makes of them).  Pure functions: rows in, ``alt.Chart`` out; no Streamlit here.

Colours are fixed per role so every chart reads the same way: teacher blue, pupils orange, silence grey.
Heights include axes and legends: Streamlit fits a chart to the container ("fit" autosize), so the plot itself gets
what the labels leave over.
"""

from __future__ import annotations

from typing import Sequence

import altair as alt
import pandas as pd

ROLE_COLOURS = {"Teacher": "#1f77b4", "Pupils": "#ff7f0e", "Silence": "#c7c7c7"}
ACTIVITY_COLOURS = {
    "exposition": "#6baed6",
    "discussion": "#fdae6b",
    "group work": "#74c476",
    "group_work": "#74c476",
    "independent work": "#bcbddc",
    "independent_work": "#bcbddc",
    "transition": "#d9d9d9",
    "other": "#d9d9d9",
}
BABBLE_LANE = "Many voices"  # stretches the babble detector heard as many pupils talking at once
BABBLE_COLOUR = "#fdd0a2"
BABBLE_NOTE = ("Many voices: stretches where many pupils talked at once (pair or group talk) and nobody could be "
               "told apart; counted as pupil talk (\"many pupils at once\"), not as silence.")
QTYPE_ORDER = ["open", "closed", "procedural", "checking", "rhetorical", "other"]
# one colour per question type, the same on Pre-watch and Progress (tableau10 hues, far apart)
QTYPE_COLOURS = {"open": "#59a14f", "closed": "#4e79a7", "procedural": "#edc948", "checking": "#b07aa1",
                 "rhetorical": "#e15759", "other": "#bab0ac"}
# the talk partition of measures.figures (teacher only, pupils only, both, silence)
TALK_COLOURS = {"Teacher only": ROLE_COLOURS["Teacher"], "Pupils only": ROLE_COLOURS["Pupils"], "Both": "#9467bd",
                "Silence": ROLE_COLOURS["Silence"]}


def qtype_scale() -> alt.Scale:
    return alt.Scale(domain=list(QTYPE_COLOURS), range=list(QTYPE_COLOURS.values()))
PICK = "pick"  # the name of the click selection on the timeline (st.altair_chart(on_select=...) reports it)


def _mmss(field: str) -> str:
    """A Vega expression formatting seconds as m:ss (for tooltips and axes)."""
    return (f"floor(datum.{field} / 60) + ':' + (floor(datum.{field} % 60) < 10 ? '0' : '') + "
            f"floor(datum.{field} % 60)")


def timeline(
    talk: Sequence[dict], activities: Sequence[dict], questions: Sequence[dict], bookmarks: Sequence[dict],
    duration_s: float,
) -> alt.LayerChart:
    """Who talks when (teacher, pupils, many voices at once, silence), the activity spans, the questions and the
    bookmarks, on one time axis.  ``talk``/``activities``: rows {start, end, lane, label}; ``questions``:
    {start, label, who}; ``bookmarks``: {start, end, label}.  A click reports the clicked row's ``start`` (the page
    seeks there)."""
    spans = pd.DataFrame(list(talk) + list(activities), columns=["start", "end", "lane", "label"])
    if spans.empty:
        spans = pd.DataFrame([{"start": 0.0, "end": 0.0, "lane": "Silence", "label": "Silence"}])
    spans["from"] = spans["start"].map(_fmt)
    spans["to"] = spans["end"].map(_fmt)
    x = alt.X("start:Q", title="time in lesson", scale=alt.Scale(domain=[0, max(duration_s, 1.0)], nice=False),
              axis=alt.Axis(labelExpr=_mmss("value"), tickCount=12))
    lanes = ["Teacher", "Pupils", BABBLE_LANE, "Silence", "Activity", "Questions", "Bookmarks"]
    y = alt.Y("lane:N", title=None, sort=lanes, scale=alt.Scale(domain=lanes),
              axis=alt.Axis(labelOverlap=False, labelFontSize=12))
    colour_domain = list(ROLE_COLOURS) + [BABBLE_LANE] + sorted({a["label"] for a in activities})
    colour_range = list(ROLE_COLOURS.values()) + [BABBLE_COLOUR] + [ACTIVITY_COLOURS.get(str(l).lower(), "#9ecae1")
                                                  for l in sorted({a["label"] for a in activities})]
    pick = alt.selection_point(name=PICK, fields=["start"], on="click", clear="dblclick")
    bars = (
        alt.Chart(spans)
        .mark_bar(height=16)
        .encode(x=x, x2="end:Q", y=y,
                color=alt.Color("label:N", scale=alt.Scale(domain=colour_domain, range=colour_range),
                                legend=alt.Legend(title=None, orient="right")),
                tooltip=[alt.Tooltip("label:N", title="what"), alt.Tooltip("from:N"), alt.Tooltip("to:N")])
        .add_params(pick)
    )
    layers: list[alt.Chart] = [bars]
    if questions:
        q = pd.DataFrame(list(questions), columns=["start", "label", "who"])
        q["lane"] = "Questions"
        q["at"] = q["start"].map(_fmt)
        layers.append(
            alt.Chart(q).mark_tick(thickness=2, size=16).encode(
                x="start:Q", y=y, color=alt.value("#333"),
                tooltip=[alt.Tooltip("at:N"), alt.Tooltip("who:N"), alt.Tooltip("label:N", title="question")])
        )
    if bookmarks:
        b = pd.DataFrame(list(bookmarks), columns=["start", "end", "label"])
        b["lane"] = "Bookmarks"
        b["at"] = b["start"].map(_fmt)
        layers.append(
            alt.Chart(b).mark_point(shape="triangle-down", filled=True, size=90, color="#d62728").encode(
                x="start:Q", y=y, tooltip=[alt.Tooltip("at:N"), alt.Tooltip("label:N", title="bookmark")])
        )
    return alt.layer(*layers).properties(height=34 * len(lanes) + 60).configure_view(strokeWidth=0)


def minutes(rows: Sequence[dict]) -> alt.Chart:
    """Talk per minute, stacked: rows {minute (start s), role (Teacher/Pupils/Silence), seconds}."""
    df = pd.DataFrame(list(rows), columns=["minute", "role", "seconds"])
    df["from"] = df["minute"].map(_fmt)
    df["stack"] = df["role"].map({name: i for i, name in enumerate(ROLE_COLOURS)}).fillna(len(ROLE_COLOURS))
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X("minute:O", title="minute", axis=alt.Axis(labelExpr="floor(datum.value / 60)", labelAngle=0)),
            y=alt.Y("seconds:Q", title="seconds", stack="zero", scale=alt.Scale(domain=[0, 60])),
            color=alt.Color("role:N", scale=alt.Scale(domain=list(ROLE_COLOURS), range=list(ROLE_COLOURS.values())),
                            legend=alt.Legend(title=None, orient="right")),
            order=alt.Order("stack:Q"),
            tooltip=[alt.Tooltip("from:N", title="minute from"), "role:N", alt.Tooltip("seconds:Q", format=".0f")],
        )
        .properties(height=260)
    )


def question_types(rows: Sequence[dict]) -> alt.Chart:
    """Questions by type (coloured as on the Progress page) and by who asked (a row each): rows {qtype, who,
    count}."""
    df = pd.DataFrame(list(rows), columns=["qtype", "who", "count"])
    order = [t for t in QTYPE_ORDER if t in set(df["qtype"])] + sorted(set(df["qtype"]) - set(QTYPE_ORDER))
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            y=alt.Y("who:N", title=None, sort=["Teacher", "Pupils"]),
            x=alt.X("count:Q", title="questions", stack="zero", axis=alt.Axis(tickMinStep=1)),
            color=alt.Color("qtype:N", title="type", sort=order, scale=qtype_scale(),
                            legend=alt.Legend(orient="bottom", columns=3)),
            order=alt.Order("qtype:N"),
            tooltip=["qtype:N", "who:N", "count:Q"],
        )
        .properties(height=190)
    )


# -- across lessons (the self-observation page) ---------------------------------------------------------------------------
def trend_shares(rows: Sequence[dict]) -> alt.Chart:
    """Talk shares per lesson: rows {lesson, order, measure (Teacher/Pupils/Silence), share}."""
    df = pd.DataFrame(list(rows), columns=["lesson", "order", "measure", "share"])
    colours = TALK_COLOURS if set(df["measure"]) <= set(TALK_COLOURS) else ROLE_COLOURS
    return _trend_lines(df, "share", "share", alt.Axis(format="%"),
                        alt.Scale(domain=list(colours), range=list(colours.values())))


def trend_questions(rows: Sequence[dict]) -> alt.Chart:
    """Teacher questions by type per lesson: rows {lesson, order, qtype, count}."""
    df = pd.DataFrame(list(rows), columns=["lesson", "order", "qtype", "count"])
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X("lesson:N", sort=alt.SortField("order"), title=None, axis=alt.Axis(labelAngle=-20)),
            y=alt.Y("count:Q", title="teacher questions", stack="zero"),
            # distinct hues per type (the default blues/reds made "checking" and "rhetorical" look alike)
            color=alt.Color("qtype:N", title="type", sort=QTYPE_ORDER, scale=qtype_scale()),
            tooltip=["lesson:N", "qtype:N", "count:Q"],
        )
        .properties(height=300)
    )


def trend_values(rows: Sequence[dict], title: str, fmt: str = ".1f") -> alt.Chart:
    """Any per-lesson measures as lines: rows {lesson, order, measure, value}."""
    df = pd.DataFrame(list(rows), columns=["lesson", "order", "measure", "value"])
    return _trend_lines(df, "value", title, alt.Axis(format=fmt), alt.Undefined)


def _trend_lines(df: pd.DataFrame, field: str, title: str, axis: alt.Axis, colour_scale) -> alt.Chart:
    return (
        alt.Chart(df)
        .mark_line(point=alt.OverlayMarkDef(size=70))
        .encode(
            x=alt.X("lesson:N", sort=alt.SortField("order"), title=None, axis=alt.Axis(labelAngle=-20)),
            y=alt.Y(f"{field}:Q", title=title, axis=axis),
            color=alt.Color("measure:N", title=None, scale=colour_scale,
                            legend=alt.Legend(orient="top", labelLimit=260)),
            tooltip=["lesson:N", "measure:N", alt.Tooltip(f"{field}:Q", format=".2f")],
        )
        .properties(height=300)
    )


def _fmt(seconds: float) -> str:
    s = int(round(max(0.0, float(seconds))))
    return f"{s // 60}:{s % 60:02d}"
