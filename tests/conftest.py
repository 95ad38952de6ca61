"""Shared fixtures: where the reference data is, and a guard that blocks outbound network."""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("VIDEOCOACH_SHARED_DATA", REPO.parent / "shared" / "data"))
SAMPLE_MEDIA = REPO / "sample_media"


def shared(*parts: str) -> Path:
    """A path in ../shared/data; skips the test with a clear reason when the reference data is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data not found: {path} (set VIDEOCOACH_SHARED_DATA)")
    return path


class NetworkBlocked(RuntimeError):
    pass


_LOCAL_HOSTS = {"127.0.0.1", "::1", "localhost", "0.0.0.0", ""}


@contextlib.contextmanager
def blocked_network():
    """Refuse every socket connection and DNS lookup that is not loopback, so a model-hub download fails loudly."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def _check(address):
        if isinstance(address, (str, bytes)):  # AF_UNIX
            return
        host = address[0]
        if host not in _LOCAL_HOSTS and not str(host).startswith("127."):
            raise NetworkBlocked(f"outbound network blocked in tests: {address!r}")

    def connect(self, address):
        _check(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        _check(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if host not in _LOCAL_HOSTS and not str(host).startswith("127."):
            raise NetworkBlocked(f"DNS lookup blocked in tests: {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    saved_env = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "PYANNOTE_METRICS_ENABLED")}
    socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["PYANNOTE_METRICS_ENABLED"] = "0"
    try:
        yield
    finally:
        socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = real_connect, real_connect_ex, real_getaddrinfo
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(autouse=True)
def _keep_the_main_module():
    """Streamlit's AppTest leaves ``sys.modules["__main__"]`` set to its temporary page script (deleted after the
    test); a later test that starts processes with multiprocessing's spawn (tests/test_store.py) would then have each
    child re-run that missing script, die, and its pool start another for ever.  Put the real one back."""
    import sys

    main = sys.modules.get("__main__")
    yield
    if main is not None and sys.modules.get("__main__") is not main:
        sys.modules["__main__"] = main


@pytest.fixture
def no_network():
    """Outbound network blocked for the duration of the test (see :func:`blocked_network`)."""
    with blocked_network():
        yield


@pytest.fixture(scope="session")
def analysed_sample(tmp_path_factory):
    """The bundled sample lesson analysed ONCE per test session by the real pipeline (real models, real ffmpeg),
    into a temporary store, with a teacher (owner) and a coach it is shared with.  Tests must not change it."""
    import json

    from videocoach.storage import auth
    from videocoach import pipeline
    from videocoach.config import Settings
    from videocoach.core.model import Span
    from videocoach.storage.store import Store

    lesson_mp4 = SAMPLE_MEDIA / "lesson.mp4"
    if not lesson_mp4.exists():
        pytest.skip("sample_media/lesson.mp4 is missing (scripts/make_sample_lesson.py makes it)")
    root = tmp_path_factory.mktemp("sample-store")
    settings = Settings(data_dir=root / "data", key_file=root / "keys" / "media.key")
    store = Store(settings)
    teacher = auth.create_user(store, "rivera", "teacher", "teacher-password", "Ms Rivera")
    coach = auth.create_user(store, "okafor", "coach", "coach-password", "Mr Okafor")
    auth.create_user(store, "other", "teacher", "other-password", "Mr Other")
    script = json.loads((SAMPLE_MEDIA / "lesson_script.json").read_text())
    sample = script["teacher_sample"]
    options = pipeline.AnalyseOptions(teacher_sample=Span(sample["start"], sample["end"]))
    lesson = pipeline.ingest_file(store, teacher, lesson_mp4, title="Sample lesson", options=options)
    store.share(teacher, lesson.id, coach)
    with blocked_network():  # the whole real pipeline runs with outbound network blocked
        pipeline.run(store, lesson.id)
    store.close()
    return {"settings": settings, "lesson_id": lesson.id, "teacher": "rivera", "coach": "okafor", "other": "other",
            "passwords": {"rivera": "teacher-password", "okafor": "coach-password", "other": "other-password"},
            "script": script}


@pytest.fixture(scope="session")
def postgres_admin_url():
    """A PostgreSQL server for this test session (tests/servers.py), on 127.0.0.1 only."""
    from servers import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request):
    """The store's tests run on both databases: None is the embedded SQLite default; else a fresh PostgreSQL
    database."""
    if request.param == "sqlite":
        return None
    from servers import new_database

    return new_database(request.getfixturevalue("postgres_admin_url"))
