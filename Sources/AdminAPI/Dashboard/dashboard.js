// The Rampart dashboard: reads the admin API with the bearer token the person signed in with (kept in this tab's
// session storage, never in a URL or a cookie) and draws what it reads. Every value from the edge reaches the page
// as text (textContent, SVG attributes), never as markup: a User-Agent or display name of <script> stays text.
'use strict';

const tokenKey = 'rampart.token';
const refreshMilliseconds = 2000;
const historyMilliseconds = 10000;
const maximumEventRows = 200;

const state = {
  role: null, // viewer, operator or admin
  bans: new Map(), // subject -> ban
  events: [], // newest last, at most maximumEventRows
  stream: null, // AbortController of the live event stream
  timers: [],
};

const byID = (id) => document.getElementById(id);

/** An element with attributes and children; strings become text nodes. */
function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ''));
  return node;
}

const svgNamespace = 'http://www.w3.org/2000/svg';
function svgElement(tag, attributes = {}, text) {
  const node = document.createElementNS(svgNamespace, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

class Unauthorized extends Error {}

/** One API request with the token; JSON back (null for 204). A 401 signs the person out. */
async function api(method, path, body) {
  const token = sessionStorage.getItem(tokenKey);
  if (!token) throw new Unauthorized('no token');
  const headers = { Authorization: 'Bearer ' + token };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method, headers, cache: 'no-store', credentials: 'omit',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) throw new Unauthorized('the token was refused');
  if (!response.ok) {
    let message = response.status + ' ' + response.statusText;
    try { message = (await response.json()).error.message; } catch (_) { /* not JSON */ }
    throw new Error(method + ' ' + path + ': ' + message);
  }
  return response.status === 204 ? null : response.json();
}

function time(epochSeconds) {
  return new Date(epochSeconds * 1000).toLocaleTimeString([], { hour12: false });
}

function replaceRows(table, rows, columns, emptyText) {
  const body = byID(table).tBodies[0];
  if (rows.length === 0) {
    body.replaceChildren(element('tr', {}, element('td', { class: 'empty', colspan: columns }, emptyText)));
  } else {
    body.replaceChildren(...rows);
  }
}

function canOperate() { return state.role === 'operator' || state.role === 'admin'; }

function showError(error) {
  if (error instanceof Unauthorized) { signOut('Your token was refused; sign in again.'); return; }
  byID('status').textContent = error.message;
}

// Sign in and out ------------------------------------------------------------------------------------------------

async function signIn(token) {
  sessionStorage.setItem(tokenKey, token);
  try {
    const me = await api('GET', '/api/whoami');
    state.role = me.role;
    byID('who').textContent = me.name + ' (' + me.role + ')';
  } catch (error) {
    sessionStorage.removeItem(tokenKey);
    byID('login-error').textContent = error instanceof Unauthorized ? 'That token was refused.' : error.message;
    return;
  }
  byID('login-error').textContent = '';
  byID('token').value = '';
  byID('login-view').hidden = true;
  byID('dashboard-view').hidden = false;
  byID('logout').hidden = false;
  start();
}

function signOut(message) {
  sessionStorage.removeItem(tokenKey);
  for (const timer of state.timers) clearInterval(timer);
  state.timers = [];
  if (state.stream) state.stream.abort();
  state.stream = null;
  state.events = [];
  state.role = null;
  byID('who').textContent = '';
  byID('about').textContent = '';
  byID('dashboard-view').hidden = true;
  byID('logout').hidden = true;
  byID('login-view').hidden = false;
  byID('login-error').textContent = message || '';
}

function start() {
  if (state.stream) return; // signed in already (a kept token and a submitted one may race)
  refresh();
  refreshHistory();
  state.timers.push(setInterval(refresh, refreshMilliseconds));
  state.timers.push(setInterval(refreshHistory, historyMilliseconds));
  followEvents();
}

// What is live now ------------------------------------------------------------------------------------------------

async function refresh() {
  try {
    const [version, registrations, calls, bans] = await Promise.all([
      api('GET', '/api/version'), api('GET', '/api/registrations?limit=500'), api('GET', '/api/calls?limit=500'),
      api('GET', '/api/bans'),
    ]);
    byID('about').textContent = 'version ' + version.version + ', up ' + Math.floor(version.uptimeSeconds / 60) + ' min';
    byID('count-registrations').textContent = registrations.length;
    byID('count-calls').textContent = calls.length;
    drawRegistrations(registrations);
    drawCalls(calls);
    drawBans(bans);
    byID('status').textContent = '';
  } catch (error) {
    showError(error);
  }
}

/** One refresh half a second from now, however many events ask for it meanwhile (a scan brings hundreds). */
let refreshPending = false;
function refreshSoon() {
  if (refreshPending) return;
  refreshPending = true;
  setTimeout(() => { refreshPending = false; refresh(); }, 500);
}

function drawRegistrations(bindings) {
  const now = Date.now() / 1000;
  const rows = bindings.map((binding) => element('tr', { 'data-aor': binding.addressOfRecord },
    element('td', {}, binding.addressOfRecord), element('td', {}, binding.contact),
    element('td', {}, binding.flow ?? '—'), element('td', {}, binding.userAgent ?? '—'),
    element('td', {}, Math.max(0, Math.round(binding.expires - now)) + ' s')));
  replaceRows('registrations', rows, 5, 'No device is registered.');
}

function posture(call) {
  const text = call.mediaEncryption + (call.srtpSuite && !call.mediaEncryption.includes(call.srtpSuite) ? ' ' + call.srtpSuite : '');
  const insecure = /plain/.test(call.mediaEncryption);
  const secure = /srtp|zrtp/.test(call.mediaEncryption) && !insecure;
  return element('span', { class: 'tag' + (secure ? ' secure' : insecure ? ' insecure' : '') }, text);
}

function quality(call) {
  if (!call.media || !call.media.some((stream) => stream.packets > 0)) return element('span', { class: 'tag' }, 'no media yet');
  const list = element('div');
  for (const stream of call.media) {
    const expected = stream.packets + stream.lost;
    const loss = expected > 0 ? (100 * stream.lost / expected).toFixed(1) : '0.0';
    const mos = stream.meanOpinionScore == null ? '—' : stream.meanOpinionScore.toFixed(2);
    list.append(element('div', {}, 'from ' + stream.sender + ': MOS ' + mos + ', loss ' + loss + '%, jitter '
      + stream.jitterMilliseconds.toFixed(1) + ' ms' + (stream.payloads ? ', ' + stream.payloads : '')));
  }
  return list;
}

let liveCallIDs = new Set();
function drawCalls(calls) {
  // A call that ended is a record now: the last hour's chart reads it once it is stored.
  const ids = new Set(calls.map((call) => call.id));
  if ([...liveCallIDs].some((id) => !ids.has(id))) setTimeout(refreshHistory, 1000);
  liveCallIDs = ids;
  const rows = calls.map((call) => {
    const action = element('td');
    if (canOperate()) {
      const end = element('button', { type: 'button', class: 'danger end', 'data-call': call.id }, 'End');
      end.addEventListener('click', () => endCall(call.id, end));
      action.append(end);
    }
    return element('tr', { 'data-call': call.id },
      element('td', {}, time(call.startedAtMilliseconds / 1000)), element('td', {}, call.caller),
      element('td', {}, call.callee), element('td', {}, call.trunk ? 'trunk ' + call.trunk : call.account ?? '—'),
      element('td', {}, call.answeredAtMilliseconds ? 'answered' : 'ringing'), element('td', {}, posture(call)),
      element('td', {}, quality(call)), action);
  });
  replaceRows('calls', rows, 8, 'No call is up.');
}

async function endCall(id, button) {
  button.disabled = true;
  try { await api('DELETE', '/api/calls/' + encodeURIComponent(id)); } catch (error) { showError(error); }
  refresh();
}

function drawBans(bans) {
  state.bans = new Map(bans.map((ban) => [ban.subject, ban]));
  byID('count-bans').textContent = bans.length;
  const rows = bans.map((ban) => element('tr', { 'data-subject': ban.subject },
    element('td', {}, ban.subject), element('td', {}, ban.reason), element('td', {}, ban.evidenceCount),
    element('td', { class: 'nowrap' }, time(ban.since)),
    element('td', { class: 'nowrap' }, ban.until ? time(ban.until) : 'lifted by hand'),
    element('td', {}, liftButton(ban.subject))));
  replaceRows('bans', rows, 6, 'Nobody is banned.');
  drawEvents();
}

function liftButton(subject) {
  if (!canOperate()) return '';
  const button = element('button', { type: 'button', class: 'danger lift', 'data-subject': subject }, 'Lift');
  button.addEventListener('click', async () => {
    button.disabled = true;
    try { await api('DELETE', '/api/bans/' + encodeURIComponent(subject)); } catch (error) { showError(error); }
    refresh();
  });
  return button;
}

// Security events, live -------------------------------------------------------------------------------------------

function drawEvents() {
  const rows = state.events.slice().reverse().map((event) => {
    const banned = event.source && state.bans.has(event.source);
    const ban = banned ? element('td', {}, element('span', { class: 'tag banned', title: state.bans.get(event.source).reason }, 'banned'),
      ' ', liftButton(event.source)) : element('td', {}, '');
    return element('tr', { 'data-kind': event.kind },
      element('td', {}, time(event.time)), element('td', {}, event.kind),
      element('td', { class: 'nowrap' }, event.source ?? '—'),
      element('td', {}, event.account ?? '—'), element('td', {}, event.reason), ban);
  });
  replaceRows('events', rows, 6, 'No security event yet.');
  const hourAgo = Date.now() / 1000 - 3600;
  const recent = state.events.filter((event) => event.time >= hourAgo);
  byID('count-events').textContent = recent.length;
  drawSources(recent);
}

/** One redraw per frame, however many events a scan streams in meanwhile. */
let drawPending = false;
function drawEventsSoon() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => { drawPending = false; drawEvents(); });
}

function addEvent(event) {
  state.events.push(event);
  if (state.events.length > maximumEventRows) state.events.splice(0, state.events.length - maximumEventRows);
}

/** Follows /api/events/stream (Server-Sent Events) with fetch, so that the token goes in a header, not the URL. */
async function followEvents() {
  const controller = new AbortController();
  state.stream = controller;
  while (!controller.signal.aborted) {
    try {
      const token = sessionStorage.getItem(tokenKey);
      const response = await fetch('/api/events/stream', {
        headers: { Authorization: 'Bearer ' + token }, cache: 'no-store', credentials: 'omit', signal: controller.signal,
      });
      if (response.status === 401) throw new Unauthorized('the token was refused');
      if (!response.ok) throw new Error('event stream: ' + response.status);
      byID('live').textContent = 'live';
      byID('live').classList.remove('down');
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffered = '';
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffered += decoder.decode(value, { stream: true });
          let end;
          while ((end = buffered.indexOf('\n\n')) >= 0) {
            const block = buffered.slice(0, end);
            buffered = buffered.slice(end + 2);
            const data = block.split('\n').filter((line) => line.startsWith('data: ')).map((line) => line.slice(6)).join('');
            if (data) {
              addEvent(JSON.parse(data));
              drawEventsSoon();
              refreshSoon(); // a ban may have come with it
            }
          }
        }
      } finally {
        reader.cancel().catch(() => {}); // the server's stream slot is let go whatever ended the loop
      }
    } catch (error) {
      if (controller.signal.aborted) return;
      if (error instanceof Unauthorized) { showError(error); return; }
    }
    byID('live').textContent = 'reconnecting';
    byID('live').classList.add('down');
    await new Promise((resume) => setTimeout(resume, 3000));
  }
}

// The last hour ---------------------------------------------------------------------------------------------------

async function refreshHistory() {
  const now = Date.now();
  const since = Math.floor(now / 1000) - 3600;
  try {
    const [records, events] = await Promise.all([
      api('GET', '/api/cdrs?limit=10000&since=' + since), api('GET', '/api/events?limit=' + maximumEventRows + '&since=' + since),
    ]);
    drawTraffic(records, now);
    // The stream's events and the stored ones, each once.
    const seen = new Set(state.events.map((event) => JSON.stringify(event)));
    for (const event of events) if (!seen.has(JSON.stringify(event))) addEvent(event);
    state.events.sort((left, right) => left.time - right.time);
    drawEvents();
  } catch (error) {
    showError(error);
  }
}

/** Bars per minute of the last hour: completed calls above failed or rejected ones. */
function drawTraffic(records, now) {
  const minutes = 60;
  const completed = new Array(minutes).fill(0);
  const failed = new Array(minutes).fill(0);
  for (const record of records) {
    const slot = minutes - 1 - Math.floor((now - record.startedAtMilliseconds) / 60000);
    if (slot < 0 || slot >= minutes) continue;
    if (record.disposition === 'failed' || record.disposition === 'rejected') failed[slot] += 1; else completed[slot] += 1;
  }
  const chart = byID('traffic-chart');
  const [left, top, width, height] = [30, 8, 560, 150];
  const most = Math.max(1, ...completed.map((count, slot) => count + failed[slot]));
  const step = width / minutes;
  const parts = [
    svgElement('line', { class: 'axis', x1: left, y1: top + height, x2: left + width, y2: top + height }),
    svgElement('text', { x: 0, y: top + 8 }, most),
    svgElement('text', { x: 0, y: top + height }, 0),
    svgElement('text', { x: left, y: top + height + 16 }, '60 min ago'),
    svgElement('text', { x: left + width - 20, y: top + height + 16 }, 'now'),
  ];
  for (let slot = 0; slot < minutes; slot += 1) {
    const x = left + slot * step + 1;
    const failedHeight = height * failed[slot] / most;
    const completedHeight = height * completed[slot] / most;
    if (failed[slot] > 0) {
      parts.push(svgElement('rect', { class: 'failed', x, width: step - 2, y: top + height - failedHeight, height: failedHeight },
      ));
    }
    if (completed[slot] > 0) {
      parts.push(svgElement('rect', {
        class: 'answered', x, width: step - 2, y: top + height - failedHeight - completedHeight, height: completedHeight,
      }));
    }
  }
  chart.replaceChildren(...parts);
}

/** The ten sources with the most security events in the last hour, as horizontal bars. */
function drawSources(events) {
  const counts = new Map();
  for (const event of events) if (event.source) counts.set(event.source, (counts.get(event.source) ?? 0) + 1);
  const top = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10);
  const chart = byID('sources-chart');
  if (top.length === 0) {
    chart.replaceChildren(svgElement('text', { x: 10, y: 20 }, 'No refused traffic in the last hour.'));
    return;
  }
  const most = top[0][1];
  const rowHeight = 170 / 10;
  const parts = [];
  top.forEach(([source, count], index) => {
    const y = 4 + index * rowHeight;
    parts.push(svgElement('text', { x: 0, y: y + 11 }, source));
    parts.push(svgElement('rect', { class: 'source', x: 200, y, height: rowHeight - 4, width: Math.max(2, 340 * count / most) }));
    parts.push(svgElement('text', { x: 205 + 340 * count / most, y: y + 11 }, count));
  });
  chart.replaceChildren(...parts);
}

// Start ------------------------------------------------------------------------------------------------------------

document.addEventListener('DOMContentLoaded', () => {
  byID('login').addEventListener('submit', (event) => {
    event.preventDefault();
    signIn(byID('token').value.trim());
  });
  byID('logout').addEventListener('click', () => signOut('Signed out.'));
  const kept = sessionStorage.getItem(tokenKey);
  if (kept) signIn(kept);
});
