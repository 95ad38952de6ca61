"""The video player: an HTML5 ``<video>`` on the login-checked media route, with the transcript, the question list
and the meeting playlist beside it (a ``st.components.v2`` component: no iframe, no extra build step).

Seeking and clip playing happen in the browser without a Streamlit rerun -- a click on a transcript line, a question
or a clip sets ``video.currentTime`` at once; the redacted rendition has a keyframe every second, so the browser
fetches only the byte range it needs.  The component sends two events back to Python: ``bookmark`` (the current moment
or a marked range) and ``clip_played`` (which clip, and how long it took from the click to playing).

The media URL carries a signed token (see :mod:`videocoach.ui.mediaserver`); the session keeps one token per lesson
and purpose, and mints a new one only when it nears expiry, so reruns do not reload the video.  Everything shown in
the component is set with ``textContent`` (never ``innerHTML``): transcript text is user content.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence

import streamlit as st

from videocoach.storage.records import Lesson, User
from videocoach.storage.store import Store
from videocoach.ui import session
from videocoach.ui.media_tokens import EXPORT_TTL_S, TOKEN_TTL_S, MediaTokens
from videocoach.ui.mediaserver import export_path, media_path, playback_refusal

REMINT_BEFORE_S = 20 * 60  # a token with less than 20 min left is replaced (the player keeps its position)

_CSS = """
:host { display: block; }
.vc { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 1rem; font-family: inherit;
      color: var(--st-text-color, #222); font-size: 0.92rem; }
.vc.single, .vc.stack { grid-template-columns: minmax(0, 1fr); }
.vc.stack .panel { max-height: 32vh; }
.vc.stack video { max-height: 40vh; }  /* meeting: the clip list starts on the first screen of a laptop */
.stage { position: relative; background: #000; border-radius: 0.4rem; overflow: hidden; }
video { width: 100%; display: block; max-height: 62vh; background: #000; }
.overlay { position: absolute; border: 3px solid #ffcc00; box-shadow: 0 0 0 2px #000; pointer-events: none;
           display: none; }
.overlay span { position: absolute; top: -1.6em; left: -3px; background: #ffcc00; color: #000; padding: 0 0.3em;
                font-size: 0.8rem; white-space: nowrap; }
.msg { padding: 2rem 1rem; color: #eee; text-align: center; }
.bar { display: flex; gap: 0.4rem; flex-wrap: wrap; align-items: center; margin-top: 0.4rem; }
.bar button, .tabs button { font: inherit; border: 1px solid rgba(128,128,128,0.5); border-radius: 0.4rem;
       background: var(--st-secondary-background-color, #f0f2f6); color: inherit; padding: 0.25rem 0.6rem;
       cursor: pointer; }
.bar button:hover, .tabs button:hover { border-color: var(--st-primary-color, #ff4b4b); }
.bar .now { font-variant-numeric: tabular-nums; min-width: 4.5em; }
.bar .hint { opacity: 0.75; font-size: 0.85rem; }
.side { display: flex; flex-direction: column; min-height: 0; }
.tabs { display: flex; gap: 0.3rem; margin-bottom: 0.3rem; }
.tabs button.on { background: var(--st-primary-color, #ff4b4b); color: #fff; }
.panel { overflow-y: auto; max-height: 62vh; border: 1px solid rgba(128,128,128,0.3); border-radius: 0.4rem; }
.row { display: grid; grid-template-columns: 3.6em 5.2em 1fr; gap: 0.4rem; padding: 0.3rem 0.4rem; cursor: pointer;
       border-bottom: 1px solid rgba(128,128,128,0.15); line-height: 1.3; }
.row:hover { background: rgba(128,128,128,0.12); }
.row.active { background: rgba(255, 204, 0, 0.25); }
.row .t { font-variant-numeric: tabular-nums; opacity: 0.8; }
.role { font-size: 0.78rem; border-radius: 0.3rem; padding: 0 0.3rem; align-self: start; text-align: center; }
.role.teacher { background: #1f77b4; color: #fff; }
.role.pupil { background: #ff7f0e; color: #000; }
.role.none { background: #bbb; color: #000; }
.meta { font-size: 0.8rem; opacity: 0.8; }
.clip { padding: 0.45rem 0.5rem; border-bottom: 1px solid rgba(128,128,128,0.2); cursor: pointer; }
.clip:hover { background: rgba(128,128,128,0.12); }
.clip.active { background: rgba(255, 204, 0, 0.25); }
.clip .head { font-weight: 600; }
.tag { display: inline-block; font-size: 0.75rem; border: 1px solid rgba(128,128,128,0.5); border-radius: 0.7rem;
       padding: 0 0.4rem; margin-right: 0.2rem; }
.empty { padding: 1rem; opacity: 0.7; }
/* a tablet (1024 px and the sidebar): the transcript column is narrow, so the time and role sit above the text */
@media (max-width: 1150px) {
  .row { grid-template-columns: 3.2em 1fr; }
  .row .role { justify-self: start; }
  .row > :nth-child(3) { grid-column: 1 / -1; }
}
"""

_HTML = "<div class='vc-root'></div>"

# One function per mount; state that must survive reruns (the video element, the applied seek nonce, the active clip)
# lives on the root element.  Re-invoked with new data on every rerun that changes it.
_JS = r"""
const fmt = (s) => { s = Math.max(0, Math.round(s || 0)); const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60),
  x = s % 60; return (h ? h + ':' + String(m).padStart(2, '0') : m) + ':' + String(x).padStart(2, '0'); };
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text); return e; };

function build(root, st) {
  root.textContent = '';
  const grid = el('div', 'vc'); root.appendChild(grid);
  const left = el('div', 'left'); grid.appendChild(left);
  const stage = el('div', 'stage'); left.appendChild(stage);
  const video = document.createElement('video');
  video.controls = true; video.preload = 'metadata'; video.playsInline = true;
  video.setAttribute('controlsList', 'nodownload noremoteplayback'); video.disablePictureInPicture = true;
  video.addEventListener('contextmenu', (e) => e.preventDefault());
  stage.appendChild(video);
  const overlay = el('div', 'overlay'); overlay.appendChild(el('span')); stage.appendChild(overlay);
  const msg = el('div', 'msg'); stage.appendChild(msg);
  const bar = el('div', 'bar'); left.appendChild(bar);
  const side = el('div', 'side'); grid.appendChild(side);
  const tabs = el('div', 'tabs'); side.appendChild(tabs);
  const panel = el('div', 'panel'); side.appendChild(panel);
  Object.assign(st, { grid, video, overlay, msg, bar, side, tabs, panel, tab: null, rows: [], activeRow: -1,
                      activeClip: null, rangeStart: null, clickAt: null, seekNonce: null, src: null });

  video.addEventListener('timeupdate', () => onTime(st));
  // in a clip: "play" at its end replays it; seeking well outside it leaves the clip (watch on freely)
  video.addEventListener('play', () => { const c = st.activeClip;
    if (c && video.currentTime >= c.end - 0.05) video.currentTime = c.start; });
  video.addEventListener('seeking', () => { const c = st.activeClip, t = video.currentTime;
    if (c && (t < c.start - 0.5 || t > c.end + 0.5)) { st.activeClip = null;
      st.panel.querySelectorAll('.clip').forEach((r) => r.classList.remove('active')); } });
  video.addEventListener('playing', () => {
    if (st.clickAt !== null && st.activeClip) {
      const ms = Math.round(performance.now() - st.clickAt);
      root.dataset.lastClipLatencyMs = String(ms);
      st.clickAt = null;
      st.send('clip_played', { id: st.activeClip.id, latency_ms: ms });
    }
  });
  video.addEventListener('error', () => {
    if (!st.src) return;
    msg.textContent = 'The video could not be loaded. If you were away for a while, reload the page.';
    msg.style.display = 'block';
  });
}

function onTime(st) {
  const t = st.video.currentTime;
  st.now && (st.now.textContent = fmt(t));
  const c = st.activeClip;
  if (c && !st.video.paused && t >= c.end) {
    if (st.loop && st.loop.checked) { st.video.currentTime = c.start; }
    else { st.video.pause(); st.video.currentTime = c.end; }
  }
  if (st.tab !== 'transcript' || !st.rows.length) return;
  // the last cue that started before t
  let lo = 0, hi = st.cues.length - 1, idx = -1;
  while (lo <= hi) { const mid = (lo + hi) >> 1; if (st.cues[mid].t <= t + 0.05) { idx = mid; lo = mid + 1; } else hi = mid - 1; }
  if (idx !== st.activeRow) {
    if (st.activeRow >= 0 && st.rows[st.activeRow]) st.rows[st.activeRow].classList.remove('active');
    st.activeRow = idx;
    const row = st.rows[idx];
    if (row) {
      row.classList.add('active');
      if (st.follow && st.follow.checked) {
        const p = st.panel; const top = row.offsetTop - p.offsetTop;
        if (top < p.scrollTop || top > p.scrollTop + p.clientHeight - row.offsetHeight) p.scrollTop = top - p.clientHeight / 3;
      }
    }
  }
}

function seek(st, t, play) {
  const v = st.video;
  v.currentTime = Math.max(0, t);
  if (play) { const p = v.play(); if (p && p.catch) p.catch(() => {}); }
}

function roleBadge(role) { return el('span', 'role ' + (role || 'none'), role || '?'); }

function renderTranscript(st) {
  const p = st.panel; p.textContent = ''; st.rows = []; st.activeRow = -1;
  if (!st.cues.length) { p.appendChild(el('div', 'empty', 'No transcript yet.')); return; }
  st.cues.forEach((c) => {
    const row = el('div', 'row'); row.dataset.t = c.t;
    row.appendChild(el('span', 't', fmt(c.t))); row.appendChild(roleBadge(c.role));
    row.appendChild(el('span', 'text', c.text));
    row.title = (c.speaker ? c.speaker + ' · ' : '') + 'click to play from here';
    row.onclick = () => { st.activeClip = null; seek(st, c.t, true); };
    p.appendChild(row); st.rows.push(row);
  });
  onTime(st);
}

function renderQuestions(st) {
  const p = st.panel; p.textContent = ''; st.rows = [];
  if (!st.questions.length) { p.appendChild(el('div', 'empty', 'No questions found.')); return; }
  st.questions.forEach((q) => {
    const row = el('div', 'row question'); row.dataset.t = q.t;
    row.appendChild(el('span', 't', fmt(q.t))); row.appendChild(roleBadge(q.role));
    const body = el('span', 'text'); body.appendChild(el('div', '', q.text));
    body.appendChild(el('div', 'meta', q.meta)); row.appendChild(body);
    row.onclick = () => { st.activeClip = null; seek(st, Math.max(0, q.t - 1), true); };
    p.appendChild(row);
  });
}

function renderClips(st) {
  const p = st.panel; p.textContent = ''; st.rows = [];
  if (!st.clips.length) { p.appendChild(el('div', 'empty', 'No bookmarks yet: add them while pre-watching.')); return; }
  st.clips.forEach((c) => {
    const row = el('div', 'clip'); row.dataset.id = c.id;
    if (st.activeClip && st.activeClip.id === c.id) { row.classList.add('active'); st.activeClip = c; }
    row.appendChild(el('div', 'head', '\u25B6 ' + fmt(c.start) + '–' + fmt(c.end) + '  ' + (c.title || '')));
    const tags = el('div'); (c.tags || []).forEach((t) => tags.appendChild(el('span', 'tag', t))); row.appendChild(tags);
    if (c.note) row.appendChild(el('div', 'meta', c.note));
    row.appendChild(el('div', 'meta', 'added by ' + (c.author || '?')));
    row.onclick = () => playClip(st, c);
    p.appendChild(row);
  });
}

function playClip(st, c) {
  st.activeClip = c; st.clickAt = performance.now();
  st.panel.querySelectorAll('.clip').forEach((r) => r.classList.toggle('active', r.dataset.id === String(c.id)));
  st.clipInfo && (st.clipInfo.textContent = 'Clip ' + fmt(c.start) + '–' + fmt(c.end));
  seek(st, c.start, true);
}

function setTab(st, name) {
  st.tab = name;
  st.tabs.querySelectorAll('button').forEach((b) => b.classList.toggle('on', b.dataset.tab === name));
  if (name === 'transcript') renderTranscript(st);
  else if (name === 'questions') renderQuestions(st);
  else renderClips(st);
}

function buildBar(st, mode) {
  const bar = st.bar; bar.textContent = '';
  st.now = el('span', 'now', fmt(st.video.currentTime)); bar.appendChild(st.now);
  if (mode === 'prewatch') {
    const now = el('button', 'bm-now', 'Bookmark this moment');
    now.onclick = () => { const t = st.video.currentTime; st.send('bookmark', { start: t, end: t, at: Date.now() }); };
    const from = el('button', 'bm-from', 'Range start');
    const hint = el('span', 'hint');
    const to = el('button', 'bm-to', 'Range end'); to.disabled = true;
    from.onclick = () => { st.rangeStart = st.video.currentTime; hint.textContent = 'range from ' + fmt(st.rangeStart); to.disabled = false; };
    to.onclick = () => {
      if (st.rangeStart === null) return;
      const a = st.rangeStart, b = st.video.currentTime; st.rangeStart = null; to.disabled = true; hint.textContent = '';
      st.send('bookmark', { start: Math.min(a, b), end: Math.max(a, b), at: Date.now() });
    };
    const follow = el('label', 'hint'); st.follow = document.createElement('input'); st.follow.type = 'checkbox';
    st.follow.checked = true; follow.appendChild(st.follow); follow.appendChild(document.createTextNode(' follow transcript'));
    [now, from, to, hint, follow].forEach((x) => bar.appendChild(x));
  } else if (mode === 'meeting') {
    const replay = el('button', 'replay', 'Replay clip');
    replay.onclick = () => { if (st.activeClip) playClip(st, st.activeClip); };
    const loop = el('label', 'hint'); st.loop = document.createElement('input'); st.loop.type = 'checkbox';
    loop.appendChild(st.loop); loop.appendChild(document.createTextNode(' loop'));
    st.clipInfo = el('span', 'hint', 'Choose a clip');
    [replay, loop, st.clipInfo].forEach((x) => bar.appendChild(x));
  }
}

function placeOverlay(st, ov) {
  const o = st.overlay, v = st.video;
  if (!ov || !v.videoWidth) { o.style.display = 'none'; return; }
  const W = v.clientWidth, H = v.clientHeight, ar = v.videoWidth / v.videoHeight;
  let w = W, h = W / ar; if (h > H) { h = H; w = H * ar; }
  const ox = (W - w) / 2, oy = (H - h) / 2; const [x, y, bw, bh] = ov.box;
  Object.assign(o.style, { display: 'block', left: (ox + x * w) + 'px', top: (oy + y * h) + 'px',
                           width: (bw * w) + 'px', height: (bh * h) + 'px' });
  o.firstChild.textContent = ov.label || '';
}

export default function (component) {
  const { data, setTriggerValue, parentElement } = component;
  const root = parentElement.querySelector('.vc-root') || parentElement;
  const st = root.__vc || (root.__vc = {});
  st.send = setTriggerValue;
  const d = data || {};
  if (!st.video || st.mode !== d.mode) { build(root, st); st.mode = d.mode; buildBar(st, d.mode); }
  st.grid.classList.toggle('single', d.mode === 'plain');
  st.grid.classList.toggle('stack', d.mode === 'meeting');
  st.side.style.display = d.mode === 'plain' ? 'none' : '';
  st.cues = d.cues || []; st.questions = d.questions || []; st.clips = d.clips || [];

  // source: keep the position when only the token changed
  if (d.src && d.src !== st.src) {
    const v = st.video, keep = st.src ? v.currentTime : null, wasPlaying = st.src && !v.paused;
    st.src = d.src; st.msg.style.display = 'none'; v.style.display = 'block'; v.src = d.src;
    if (keep) v.addEventListener('loadedmetadata', () => { v.currentTime = keep; if (wasPlaying) v.play().catch(() => {}); }, { once: true });
  } else if (!d.src) {
    st.src = null; st.video.removeAttribute('src'); st.video.load(); st.video.style.display = 'none';
    st.msg.textContent = d.message || 'The video is not available.'; st.msg.style.display = 'block';
  }
  root.dataset.src = st.src || '';

  // tabs
  const want = d.mode === 'meeting' ? ['clips'] : d.mode === 'prewatch' ? ['transcript', 'questions'] : [];
  const names = { transcript: 'Transcript', questions: 'Questions (' + st.questions.length + ')', clips: 'Clips (' + st.clips.length + ')' };
  st.tabs.textContent = '';
  want.forEach((w) => { const b = el('button', '', names[w]); b.dataset.tab = w; b.onclick = () => setTab(st, w); st.tabs.appendChild(b); });
  if (want.length) setTab(st, want.includes(st.tab) ? st.tab : want[0]);

  // a seek asked for by Python (a chart click, "show face"), applied once per nonce
  if (d.seek && d.seek.nonce !== st.seekNonce) {
    st.seekNonce = d.seek.nonce;
    const go = () => seek(st, d.seek.t, !!d.seek.play);
    if (st.video.readyState >= 1) go(); else st.video.addEventListener('loadedmetadata', go, { once: true });
  }
  const ov = d.overlay || null;
  const place = () => placeOverlay(st, ov);
  if (st.video.readyState >= 1) place(); else st.video.addEventListener('loadedmetadata', place, { once: true });
  st.video.onseeked = () => { if (ov && Math.abs(st.video.currentTime - ov.t) > 2) st.overlay.style.display = 'none'; };
}
"""

_PLAYER = st.components.v2.component("vc_player", html=_HTML, css=_CSS, js=_JS)


@dataclass(frozen=True)
class PlayerEvents:
    bookmark: dict | None  # {"start": s, "end": s} when the user asked to bookmark the moment / a range this run
    clip_played: dict | None  # {"id": bookmark id, "latency_ms": click → playing} when a clip started this run


def media_url(store: Store, user: User, lesson: Lesson, *, kind: str = "redacted",
              purpose: str = "view") -> tuple[str | None, str | None]:
    """(URL, None) when this user may play the lesson now, else (None, why not).  Access is checked (and a refusal
    audited) every time; the token is reused until it nears expiry so the player does not reload on each rerun."""
    lesson = store.require_access(user, lesson.id, f"media.{purpose}")
    refusal = playback_refusal(store, lesson, kind)
    if refusal is not None:
        return None, refusal
    held: dict = st.session_state.setdefault(session.KEY_MEDIA_URLS, {})
    cache_key = f"{user.id}:{lesson.id}:{kind}:{purpose}"
    now = time.time()
    url, expires = held.get(cache_key, (None, 0.0))
    if url is None or expires - now < REMINT_BEFORE_S:
        tokens = MediaTokens.for_settings(store.settings)
        url = media_path(tokens.mint(user.id, lesson.id, kind, purpose=purpose, ttl_s=TOKEN_TTL_S, now=now,
                                     browser_cookie=session.browser_cookie(),  # bound to this browser
                                     session=session.login_session_tag()))  # and ends with this login
        held[cache_key] = (url, now + TOKEN_TTL_S)
    return url, None


def export_url(store: Store, user: User, lesson: Lesson, fmt: str) -> str:
    """A download link for the lesson's bookmarks (``fmt`` csv / json), made fresh when fetched by the export route;
    bound to this browser and this login, and valid for minutes."""
    store.require_access(user, lesson.id, "bookmark.export")
    held: dict = st.session_state.setdefault(session.KEY_MEDIA_URLS, {})
    cache_key = f"{user.id}:{lesson.id}:export:{fmt}"
    now = time.time()
    url, expires = held.get(cache_key, (None, 0.0))
    if url is None or expires - now < EXPORT_TTL_S / 2:
        tokens = MediaTokens.for_settings(store.settings)
        url = export_path(tokens.mint_export(user.id, lesson.id, fmt, now=now, browser_cookie=session.browser_cookie(),
                                             session=session.login_session_tag()))
        held[cache_key] = (url, now + EXPORT_TTL_S)
    return url


def player(
    *, key: str, src: str | None, message: str | None = None, mode: str = "prewatch",
    cues: Sequence[dict] = (), questions: Sequence[dict] = (), clips: Sequence[dict] = (),
    seek: dict | None = None, overlay: dict | None = None,
) -> PlayerEvents:
    """Mount the player.  ``mode``: "prewatch" (transcript + questions, bookmark buttons), "meeting" (clip playlist),
    "plain" (video only).  ``seek``: {"t", "nonce", "play"} applied once per nonce.  ``overlay``: {"t", "box": (x, y,
    w, h) as shares of the frame, "label"} -- an outline drawn over the (already redacted) picture."""
    data: dict[str, Any] = {"src": src, "message": message, "mode": mode, "cues": list(cues),
                            "questions": list(questions), "clips": list(clips), "seek": seek, "overlay": overlay}
    result = _PLAYER(key=key, data=data, on_bookmark_change=_noop, on_clip_played_change=_noop)
    return PlayerEvents(bookmark=_get(result, "bookmark"), clip_played=_get(result, "clip_played"))


def _noop() -> None:
    return None


def _get(result: Any, name: str) -> Any:
    value = getattr(result, name, None)
    if value is None and isinstance(result, dict):
        value = result.get(name)
    return value


__all__ = ["PlayerEvents", "media_url", "player"]
