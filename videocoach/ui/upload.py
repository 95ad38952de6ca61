"""The lesson upload form: a small component that PUTs the chosen file straight to the login-checked upload route
(``/vc-upload/<token>``, see :mod:`videocoach.ui.mediaserver`), with a progress bar.

Why not ``st.file_uploader``: it keeps the whole upload in the server's memory (a 50-minute lesson is 2-4 GB); the
route streams it to disk instead.  The browser sends the file with ``XMLHttpRequest`` (for upload progress); the
component reports the outcome to Python as an ``uploaded`` event: ``{"lesson_id", "title"}`` or ``{"error"}``.
"""

from __future__ import annotations

import time
from typing import Sequence

import streamlit as st

from videocoach.storage.records import User
from videocoach.ui import session
from videocoach.ui.media_tokens import TOKEN_TTL_S, MediaTokens
from videocoach.ui.mediaserver import upload_path

_CSS = """
.up { display: grid; gap: 0.6rem; font-family: inherit; color: var(--st-text-color, #222); max-width: 46rem; }
label { display: grid; gap: 0.2rem; font-size: 0.9rem; }
input[type=text], select { font: inherit; padding: 0.45rem 0.5rem; border-radius: 0.4rem;
  border: 1px solid rgba(128,128,128,0.45); background: var(--st-background-color, #fff); color: inherit; }
input[type=file] { font: inherit; }
.hint { font-size: 0.8rem; opacity: 0.75; }
button { font: inherit; justify-self: start; padding: 0.4rem 0.9rem; border-radius: 0.4rem; cursor: pointer;
  border: 1px solid var(--st-primary-color, #ff4b4b); background: var(--st-primary-color, #ff4b4b); color: #fff; }
button:disabled { opacity: 0.5; cursor: default; }
progress { width: 100%; height: 0.8rem; }
.status { font-size: 0.9rem; min-height: 1.2em; }
.status.err { color: #c00; }
"""

_JS = r"""
const el = (tag, attrs, text) => { const e = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => e.setAttribute(k, v)); if (text) e.textContent = text; return e; };

export default function (component) {
  const { data, setTriggerValue, parentElement } = component;
  const root = parentElement.querySelector('.up-root') || parentElement;
  const st = root.__up || (root.__up = {});
  st.data = data || {};
  if (!st.form) {
    const form = el('div', { class: 'up' }); root.appendChild(form);
    const fileLabel = el('label', {}, 'Lesson video');
    const file = el('input', { type: 'file', name: 'lesson', accept: st.data.accept || 'video/*' });
    fileLabel.appendChild(file);
    fileLabel.appendChild(el('span', { class: 'hint' }, 'Stored encrypted; only you and the coaches you share it with can watch it.'));
    const titleLabel = el('label', {}, 'Title');
    const title = el('input', { type: 'text', name: 'title', placeholder: 'e.g. Year 8 science, melting ice', maxlength: '200' });
    titleLabel.appendChild(title);
    const policyLabel = el('label', {}, 'Consent policy');
    const policy = el('select', { name: 'policy' }); policyLabel.appendChild(policy);
    const sampleLabel = el('label', {}, 'Where you speak alone (optional)');
    const sample = el('input', { type: 'text', name: 'sample', placeholder: 'e.g. 0:05-0:20', maxlength: '40' });
    sampleLabel.appendChild(sample);
    sampleLabel.appendChild(el('span', { class: 'hint' }, "A few seconds where only you speak: telling your voice from the pupils' becomes much more reliable."));
    const go = el('button', { type: 'button', class: 'up-go' }, 'Upload and analyse');
    const bar = el('progress', { max: '100', value: '0' }); bar.style.display = 'none';
    const status = el('div', { class: 'status' });
    [fileLabel, titleLabel, policyLabel, sampleLabel, go, bar, status].forEach((x) => form.appendChild(x));
    Object.assign(st, { form, file, title, policy, sample, go, bar, status, busy: false });

    go.onclick = () => {
      const f = file.files && file.files[0];
      status.classList.remove('err');
      if (!f) { status.textContent = 'Choose a video file first.'; status.classList.add('err'); return; }
      const q = new URLSearchParams({ name: f.name, title: title.value, policy: policy.value, sample: sample.value });
      const xhr = new XMLHttpRequest();
      xhr.open('PUT', st.data.url + '?' + q.toString());
      xhr.setRequestHeader('Content-Type', 'application/octet-stream');
      st.busy = true; go.disabled = true; bar.style.display = 'block'; bar.value = 0;
      status.textContent = 'Uploading…';
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) { bar.value = Math.round(100 * e.loaded / e.total);
        status.textContent = e.loaded < e.total ? 'Uploading… ' + bar.value + ' %' : 'Checking and storing the video…'; } };
      xhr.onload = () => {
        st.busy = false; go.disabled = false;
        let body = {}; try { body = JSON.parse(xhr.responseText || '{}'); } catch (err) { body = {}; }
        if (xhr.status === 201) {
          status.textContent = 'Stored “' + body.title + '”.'; bar.style.display = 'none';
          file.value = ''; title.value = ''; sample.value = '';
          setTriggerValue('uploaded', { lesson_id: body.lesson_id, title: body.title, at: Date.now() });
        } else {
          const msg = body.error || ('The upload failed (HTTP ' + xhr.status + ').');
          status.textContent = msg; status.classList.add('err'); bar.style.display = 'none';
          setTriggerValue('uploaded', { error: msg, at: Date.now() });
        }
      };
      xhr.onerror = () => { st.busy = false; go.disabled = false; bar.style.display = 'none';
        status.textContent = 'The connection was lost during the upload.'; status.classList.add('err'); };
      xhr.send(f);
    };
  }
  // policy options (trusted: shipped policy files), kept when re-rendered
  const keep = st.policy.value;
  st.policy.textContent = '';
  (st.data.policies || []).forEach((p) => { const o = el('option', { value: p.name }, p.label); st.policy.appendChild(o); });
  st.policy.value = keep || st.data.default_policy || '';
  st.file.setAttribute('accept', st.data.accept || 'video/*');
}
"""

_UPLOADER = st.components.v2.component("vc_upload", html="<div class='up-root'></div>", css=_CSS, js=_JS)


def upload_url(user: User) -> str:
    """An upload URL for this user in this browser, reused until it nears expiry."""
    held: dict = st.session_state.setdefault(session.KEY_MEDIA_URLS, {})
    key = f"{user.id}:upload"
    now = time.time()
    url, expires = held.get(key, (None, 0.0))
    if url is None or expires - now < 20 * 60:
        tokens = MediaTokens.for_settings(session.settings())
        url = upload_path(tokens.mint_upload(user.id, now=now, browser_cookie=session.browser_cookie(),
                                             session=session.login_session_tag()))
        held[key] = (url, now + TOKEN_TTL_S)
    return url


def upload_form(user: User, policies: Sequence[tuple[str, str]], default_policy: str, accept: Sequence[str],
                *, key: str) -> dict | None:
    """Mount the form; returns the outcome of an upload that finished in this run ({"lesson_id", "title"} or
    {"error"}), else None.  ``policies``: (name, label) pairs."""
    data = {"url": upload_url(user), "policies": [{"name": n, "label": l} for n, l in policies],
            "default_policy": default_policy, "accept": ",".join("." + a for a in accept)}
    result = _UPLOADER(key=key, data=data, on_uploaded_change=_noop)
    return getattr(result, "uploaded", None)


def _noop() -> None:
    return None
