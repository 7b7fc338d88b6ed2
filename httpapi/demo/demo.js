// latch demo page: seed 001's axios interceptor, in plain fetch.
//
// The access token is kept in a variable (never in storage a script
// injected later could read); the refresh token lives in latch's HttpOnly
// "refresh" cookie, sent only to /api/cookie/.
'use strict';

let access = null; // the access token
let refreshing = null; // the refresh in flight: one promise shared by every caller
let refreshCount = 0;

class LoggedOut extends Error {}

const $ = (id) => document.getElementById(id);

function log(line) {
  const out = $('out');
  out.textContent += line + '\n';
  out.scrollTop = out.scrollHeight;
}

// claims decodes a JWT's payload, for display only (the server verifies).
function claims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part));
  } catch {
    return null;
  }
}

function showStatus() {
  const st = $('status');
  const c = access && claims(access);
  if (access) {
    st.textContent = c && c.username
      ? 'logged in as ' + c.username + ', access token expires ' + new Date(c.exp * 1000).toLocaleTimeString()
      : 'logged in (access token unreadable: the next call will refresh it)';
    st.classList.add('in');
  } else {
    st.textContent = 'logged out';
    st.classList.remove('in');
  }
  $('refreshes').textContent = String(refreshCount);
}

async function readBody(res) {
  const text = await res.text();
  if (!text) return '';
  try {
    return JSON.stringify(JSON.parse(text));
  } catch {
    return text;
  }
}

function postJSON(path, body) {
  return fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    credentials: 'same-origin',
  });
}

// refresh gets a new access token with the refresh cookie. Concurrent
// callers share one request: with rotation, two refreshes of one token are
// wasteful at best and look like token theft at worst.
function refresh(who) {
  if (refreshing) {
    log('  ' + who + ': 401 → joins the refresh in flight');
    return refreshing;
  }
  log('  ' + who + ': 401 → refreshing (POST /api/cookie/refresh/)');
  refreshCount++;
  refreshing = (async () => {
    const res = await postJSON('/api/cookie/refresh/', {});
    if (!res.ok) {
      access = null;
      throw new LoggedOut('refresh refused: ' + res.status + ' ' + (await readBody(res)));
    }
    access = (await res.json()).access;
    log('  refresh → 200, new access token …' + access.slice(-8));
    return access;
  })().finally(() => {
    refreshing = null;
    showStatus();
  });
  return refreshing;
}

// api sends a request with the access token; on a 401 it refreshes once
// and sends it again (the interceptor's _retry flag). A call whose 401
// answered a token that has been replaced meanwhile just retries with the
// current one.
async function api(method, path) {
  const who = method + ' ' + path;
  const send = (token) => fetch(path, {
    method,
    headers: token ? { Authorization: 'Bearer ' + token } : {},
    credentials: 'same-origin',
  });
  const sent = access;
  let res = await send(sent);
  if (res.status !== 401) return res;
  const token = access && access !== sent ? access : await refresh(who);
  res = await send(token);
  return res;
}

// call runs an API call and shows its outcome.
async function call(method, path) {
  const who = method + ' ' + path;
  try {
    const res = await api(method, path);
    log(who + ' → ' + res.status + ' ' + (await readBody(res)));
  } catch (err) {
    if (err instanceof LoggedOut) {
      log(who + ' → logged out (' + err.message + ')');
    } else {
      log(who + ' → error: ' + err);
    }
  }
  showStatus();
}

async function login(ev) {
  ev.preventDefault();
  const username = $('username').value;
  const res = await postJSON('/api/cookie/login/', { username, password: $('password').value });
  const body = await readBody(res);
  if (res.ok) {
    access = JSON.parse(body).access;
    log('POST /api/cookie/login/ → ' + res.status + ' (access token in the body, refresh token in an HttpOnly cookie)');
  } else {
    log('POST /api/cookie/login/ → ' + res.status + ' ' + body);
  }
  $('password').value = '';
  showStatus();
}

// logout revokes the session through the refresh cookie; the access token
// goes along, so that the session still ends when the cookie is gone
// (cleared, or expired before the access token).
async function logout() {
  const res = await fetch('/api/cookie/logout/', {
    method: 'POST',
    headers: Object.assign({ 'Content-Type': 'application/json' }, access ? { Authorization: 'Bearer ' + access } : {}),
    body: '{}',
    credentials: 'same-origin',
  });
  if (res.status === 205) {
    access = null;
    log('POST /api/cookie/logout/ → 205 (session revoked, cookie cleared)');
  } else if (res.status === 401) {
    access = null;
    log('POST /api/cookie/logout/ → 401 ' + (await readBody(res)) + ' (no refresh cookie, and the access token was refused: log in again to end the session here)');
  } else {
    log('POST /api/cookie/logout/ → ' + res.status + ' ' + (await readBody(res)) + ' (logout failed: the session may still be active)');
  }
  showStatus();
}

function expire() {
  access = 'expired.' + (access ? access.slice(-8) : 'token') + '.garbage';
  log('access token replaced with a garbage one: the next call gets a 401');
  showStatus();
}

async function parallel() {
  log('five calls at once:');
  await Promise.all([1, 2, 3, 4, 5].map(() => call('GET', '/api/me/')));
}

document.addEventListener('DOMContentLoaded', () => {
  $('login').addEventListener('submit', login);
  $('me').addEventListener('click', () => call('GET', '/api/me/'));
  $('orders').addEventListener('click', () => call('GET', '/api/orders/'));
  $('parallel').addEventListener('click', parallel);
  $('expire').addEventListener('click', expire);
  $('logout').addEventListener('click', logout);
  $('clear').addEventListener('click', () => { $('out').textContent = ''; });
  showStatus();
});
