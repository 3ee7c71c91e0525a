"""Posts shown as inert text: st.text for the untrusted body, escaped captions, http(s) links only."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.data import markdown_text, when


def pseudonym(author: object) -> str:
    """A short, stable handle for an author who is stored only as a keyed hash."""
    if author is None or (isinstance(author, float) and author != author) or not str(author):
        return "unknown author"
    return "person-" + str(author)[:8]


def show_posts(frame: pd.DataFrame, empty: str = "No posts.", key: str = "posts") -> None:
    """Each post in a bordered box: time, pseudonymised author, source, language, verdict, text, link."""
    if frame is None or frame.empty:
        st.caption(empty)
        return
    for i, row in enumerate(frame.itertuples(index=False)):
        with st.container(border=True):
            facts = [when(row.created_at), pseudonym(row.author), str(row.source), str(row.lang or "?")]
            symptom = getattr(row, "symptom", None)
            if isinstance(symptom, str) and symptom:
                facts.append(f"symptom: {symptom}")
            st.caption(markdown_text(" · ".join(facts)))
            st.text(str(row.text))
            link = getattr(row, "link", None)
            if isinstance(link, str) and link:
                st.link_button("Open the post", link, key=f"{key}-link-{i}")
