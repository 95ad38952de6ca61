"""The Figure 9 measures, as pure functions over the data model: talk time and turns (``metrics``), questions
(``sentences``, ``question_cues``, ``question_types``, ``question_model``, ``questions``), activities
(``activities``), language (``language``), positive moments (``moments``) and use of the room (``room``, with
``follow``: the teacher's body continuing their path where the face is turned away).

May import: ``videocoach.core``, numpy and the standard library.  Nothing heavy: no torch, cv2, streamlit, sqlite3
or ffmpeg (a test checks this), and no I/O beyond reading the package's own model parameters.
"""
