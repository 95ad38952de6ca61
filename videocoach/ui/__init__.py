"""The Streamlit review app: pre-watch, bookmarks, meeting mode and self-observation.

``app.py`` wires the pages (``videocoach/ui/pages/*.py``) with ``st.navigation`` and, when ``streamlit run`` imports
it as an ASGI module, mounts the login-checked media route (:mod:`videocoach.ui.mediaserver`).  Pages are thin: they
call :mod:`videocoach.ui.review` (what the pages need from the store and pipeline, as plain functions), the store, the
pipeline and the metrics; :mod:`videocoach.ui.session` knows who is logged in; :mod:`videocoach.ui.player` is the
video element; :mod:`videocoach.ui.charts` builds the Altair charts.
"""
