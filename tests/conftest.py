"""Shared fixtures: where the reference data is, and a guard that blocks outbound network."""

from __future__ import annotations

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


@pytest.fixture
def no_network(monkeypatch):
    """Refuse every socket connection that is not loopback or a unix socket, so a hub download fails loudly."""
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

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("PYANNOTE_METRICS_ENABLED", "0")
    yield
