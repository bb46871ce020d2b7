// The status page: a client of the operator API. The token stays in this tab's sessionStorage; it is sent in the
// Authorization header only, never in a URL. Data is put in the page as text, never as HTML.
'use strict';

const TOKEN = 'factoryRunner.token';
const REFRESH_MS = 5000;
const PAGE = 50;
const TIMELINE = 40;
const COUNT_LABELS = { waiting: 'wait', deferred: 'defer', claimed: 'claim', done: 'done', failed: 'fail' };

const state = { me: null, jobs: [], processes: [], timer: null, lists: {} };

const $ = (selector, root = document) => root.querySelector(selector);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (name === 'className') node.className = value;
    else node.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// ---- the API

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.error ? body.error : 'HTTP ' + status);
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, body) {
  const token = sessionStorage.getItem(TOKEN);
  // signed out while a refresh was under way: its remaining calls are not made
  if (!token) throw new ApiError(401, { error: 'Signed out' });
  const headers = { Authorization: 'Bearer ' + token };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store',
  });
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (e) { json = { error: text }; }
  if (response.status === 401) {
    signOut('The token is no longer accepted: ' + (json && json.error));
  }
  if (!response.ok) throw new ApiError(response.status, json);
  return json;
}

const query = (params) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? '?' + s : '';
};
const enc = encodeURIComponent;

// ---- formatting

// Times are shown as clock times (the date too when not today), so a row only changes when its data does.
function time(iso) {
  if (!iso) return el('span', { className: 'muted' }, '-');
  const at = new Date(iso);
  const today = at.toDateString() === new Date().toDateString();
  const text = today ? at.toLocaleTimeString([], { hour12: false })
    : at.toLocaleDateString([], { month: 'short', day: 'numeric' }) + ' ' + at.toLocaleTimeString([],
      { hour: '2-digit', minute: '2-digit', hour12: false });
  return el('time', { datetime: iso, title: at.toString() }, text);
}

function duration(run) {
  if (!run || !run.startedAt) return '';
  return millis((run.endedAt ? new Date(run.endedAt) : new Date()) - new Date(run.startedAt));
}

function millis(ms) {
  if (ms < 1000) return ms + ' ms';
  if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
  return Math.floor(ms / 60000) + ' m ' + Math.round((ms % 60000) / 1000) + ' s';
}

// an ISO-8601 duration as the API gives it (PT1M30S) in the page's words (1 m 30 s); anything else as it came
function isoDuration(iso) {
  const parts = /^PT(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?$/.exec(iso || '');
  if (!parts) return iso;
  return millis(Math.round(((+parts[1] || 0) * 3600 + (+parts[2] || 0) * 60 + (+parts[3] || 0)) * 1000));
}

const badge = (status) => el('span', { className: 'badge status-' + status }, status);
const short = (text, n) => !text ? '' : text.length > n ? text.slice(0, n - 1) + '…' : text;
const canAct = () => state.me && (state.me.role === 'operator' || state.me.role === 'admin');

function message(kind, text, detail) {
  const box = $('#answer');
  box.hidden = false;
  box.className = kind;
  box.replaceChildren(el('span', null, text),
    detail ? el('code', null, JSON.stringify(detail)) : null,
    el('button', { type: 'button', className: 'close', 'aria-label': 'Dismiss', onclick: () => { box.hidden = true; } },
      '×'));
}

// ---- actions: each asks first, then shows the API's answer

function confirmAction(question) {
  const dialog = $('#confirm');
  $('.question', dialog).textContent = question;
  dialog.querySelector('[name=note]').value = '';
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'ok' ? { note: dialog.querySelector('[name=note]').value } : null);
    }, { once: true });
  });
}

async function act(question, method, path, withNote, after) {
  const answer = await confirmAction(question);
  if (!answer) return;
  try {
    const result = await api(method, path, withNote && answer.note ? { note: answer.note } : undefined);
    message('ok', method + ' ' + path + ': done', result);
  } catch (e) {
    message('failed', method + ' ' + path + ': ' + (e.status ? e.status + ' ' : '') + e.message,
      e.body && e.body.detail);
  }
  refresh();
  if (after) after();
}

// after: what to do once the API answered, say show a story again with what changed
const actionButton = (label, question, method, path, withNote = true, after = null) => el('button', {
  type: 'button', className: 'act', 'data-action': label.toLowerCase(),
  onclick: (event) => { event.stopPropagation(); act(question, method, path, withNote, after); },
}, label);

// ---- jobs and their timeline

function renderJobs(jobs) {
  const depth = {};
  const rows = jobs.map((job) => {
    depth[job.name] = job.upstream && depth[job.upstream] !== undefined ? depth[job.upstream] + 1 : 0;
    const last = job.lastRun;
    const items = job.items || {};
    const counts = el('span', { className: 'counts' }, ['waiting', 'deferred', 'claimed', 'done', 'failed']
      .map((s) => el('span', { className: 'count count-' + s + (items[s] ? '' : ' zero'), title: s },
        COUNT_LABELS[s] + ' ' + (items[s] || 0))));
    const timeline = el('span', { className: 'timeline' }, (job.recentRuns || []).slice().reverse().map((run) =>
      el('button', {
        type: 'button', 'data-run': run.runId,
        className: 'tick status-' + run.status + (run.itemsFailed ? ' with-failures' : '')
          + (run.itemsTaken || run.status !== 'succeeded' ? '' : ' idle'),
        'aria-label': 'run ' + run.runId + ' ' + run.status,
        title: 'run ' + run.runId + ': ' + run.status + ', ' + new Date(run.startedAt).toLocaleString()
          + ', ' + duration(run) + ', ' + run.itemsTaken + ' items taken, ' + run.itemsFailed + ' failed',
        onclick: () => openRun(run.runId),
      })));
    const actions = canAct() ? el('span', { className: 'actions' },
      actionButton('Trigger', 'Start a run of job ' + job.name + ' now?', 'POST', '/api/jobs/' + enc(job.name)
        + '/trigger', false),
      job.paused
        ? actionButton('Resume', 'Resume job ' + job.name + '?', 'POST', '/api/jobs/' + enc(job.name) + '/resume')
        : actionButton('Pause', 'Pause job ' + job.name + '? Its fires are skipped until it is resumed.', 'POST',
          '/api/jobs/' + enc(job.name) + '/pause')) : null;
    return el('tr', { 'data-job': job.name, className: job.paused ? 'paused' : null },
      el('td', { className: 'job' },
        el('span', { className: 'indent', style: null }, '\u00a0\u00a0'.repeat(depth[job.name]),
          depth[job.name] ? '↳ ' : ''),
        el('strong', null, job.name),
        job.paused ? el('span', { className: 'badge status-paused' }, 'paused') : null,
        job.running ? null : el('span', { className: 'badge status-stopped' }, 'stopped')),
      el('td', null, el('code', null, job.cron || '-')),
      el('td', null, job.paused ? el('span', { className: 'muted' }, 'paused') : time(job.nextFire)),
      el('td', { className: 'last-run' }, last ? [
        el('a', { href: '#', onclick: (e) => { e.preventDefault(); openRun(last.runId); } }, badge(last.status)),
        ' ', time(last.startedAt), ' ', el('span', { className: 'muted' }, duration(last)), ' ',
        el('span', { className: 'muted', title: 'items taken / done / failed' },
          last.itemsTaken + '/' + last.itemsDone + '/' + last.itemsFailed),
        last.itemsFailed ? el('span', { className: 'badge status-failed' }, last.itemsFailed + ' failed') : null]
        : el('span', { className: 'muted' }, 'never')),
      el('td', null, counts),
      el('td', null, timeline),
      el('td', { className: 'act-col' }, actions));
  });
  replaceRows('#jobs', rows);
}

// ---- lists paged with the API's cursor

// A list's refresh reads again as many rows as are shown (the first page, or more after "More"), so paging on does
// not jump back to the first page every few seconds.
const LISTS = {
  errors: {
    byJob: true,
    path: (f) => '/api/errors' + query({ status: f.status, job: f.job }),
    row: (f) => el('tr', {
      'data-fingerprint': f.fingerprint, className: 'clickable', onclick: () => openError(f.fingerprint),
    },
      el('td', null, el('code', { title: f.fingerprint }, f.fingerprint.slice(0, 10))),
      el('td', null, f.job || '-'), el('td', null, badge(f.status)),
      el('td', { className: 'message', title: f.sample || f.message }, short(f.sample || f.message, 140)),
      el('td', { className: 'num' }, f.occurrences), el('td', null, time(f.lastSeen)),
      el('td', { className: 'act-col' }, canAct() ? el('span', { className: 'actions' },
        f.status === 'open' ? actionButton('Acknowledge', 'Acknowledge error ' + f.fingerprint.slice(0, 10) + ' ('
          + short(f.message, 80) + ')?', 'POST', '/api/errors/' + enc(f.fingerprint) + '/acknowledge') : null,
        f.status !== 'resolved' ? actionButton('Resolve', 'Resolve error ' + f.fingerprint.slice(0, 10) + '?', 'POST',
          '/api/errors/' + enc(f.fingerprint) + '/resolve') : null,
        actionButton('Redrive', 'Redrive every item that failed with error ' + f.fingerprint.slice(0, 10) + '?',
          'POST', '/api/errors/' + enc(f.fingerprint) + '/redrive')) : null)),
  },
  runs: {
    byJob: true,
    path: (f) => '/api/runs' + query({ job: f.job, status: f.status }),
    row: (r) => el('tr', { 'data-run': r.runId, className: 'clickable', onclick: () => openRun(r.runId) },
      el('td', { className: 'num' }, r.runId), el('td', null, r.job), el('td', null, badge(r.status)),
      el('td', null, r.trigger), el('td', null, time(r.startedAt)), el('td', { className: 'num' }, duration(r)),
      el('td', { className: 'num' }, r.itemsTaken), el('td', { className: 'num' }, r.itemsDone),
      el('td', { className: 'num' + (r.itemsFailed ? ' bad' : '') }, r.itemsFailed),
      el('td', { className: 'message', title: r.summary || '' }, short(r.summary, 100))),
  },
  // programs, newest first: the step a program is at, or how it ended
  programs: {
    path: (f) => '/api/programs' + query({ status: f.status }),
    row: (p) => el('tr', {
      'data-program': p.runId, 'data-status': p.status, className: 'clickable', onclick: () => openProgram(p.runId),
    },
      el('td', null, el('code', { title: p.runId }, p.runId.slice(0, 8))), el('td', null, badge(p.status)),
      el('td', { className: 'step' }, programStep(p)),
      el('td', { className: 'num' + (p.stepRetryCount ? ' bad' : '') }, p.stepRetryCount),
      el('td', null, time(p.createdAt)), el('td', null, p.submittedBy || '-'),
      el('td', { className: 'message bad', title: p.errorMessage || '' }, short(p.errorMessage, 120)),
      el('td', { className: 'act-col' }, cancelProgram(p), resumeProgram(p))),
  },
  items: {
    byJob: true,
    path: (f) => f.job ? '/api/items/' + enc(f.job) + query({ status: f.status, key: f.key }) : null,
    row: (i) => el('tr', {
      'data-key': i.key, 'data-status': i.status, className: 'clickable', onclick: () => openItem(i.job, i.key),
    },
      el('td', null, el('strong', null, i.key)), el('td', null, i.version), el('td', null, badge(i.status)),
      el('td', { className: 'num' }, i.attempts), el('td', { className: 'num' }, i.runId || ''),
      el('td', null, time(i.updatedAt)),
      el('td', { className: 'message', title: i.error || '' }, short(i.error, 120)),
      el('td', { className: 'act-col' }, canAct() && i.status === 'failed' ? actionButton('Redrive', 'Put item '
        + i.key + ' (version ' + i.version + ') back into job ' + i.job + '?', 'POST', '/api/items/' + enc(i.job)
        + '/' + enc(i.key) + '/redrive' + query({ version: i.version })) : null)),
  },
  // the outbox: a pending alert is resent now, a sent one is queued again as a new alert
  alerts: {
    path: (f) => '/api/alerts' + query({ status: f.status }),
    row: (a) => el('tr', { 'data-alert': a.alertId, 'data-status': a.status },
      el('td', { className: 'num' }, a.alertId), el('td', null, time(a.createdAt)), el('td', null, a.kind),
      el('td', null, a.job || '-'), el('td', { className: 'message' }, short(a.subject, 120)),
      el('td', null, badge(a.status)), el('td', { className: 'num' }, a.attempts),
      el('td', null, time(a.status === 'sent' ? a.sentAt : a.nextAttemptAt)),
      el('td', { className: 'message bad', title: a.lastError || '' }, short(a.lastError, 100)),
      el('td', { className: 'act-col' }, canAct() ? actionButton('Resend', a.status === 'sent'
        ? 'Mail alert ' + a.alertId + ' (' + short(a.subject, 80) + ') again, as a new alert?'
        : 'Send alert ' + a.alertId + ' (' + short(a.subject, 80) + ') now, without waiting for its next attempt?',
      'POST', '/api/alerts/' + enc(a.alertId) + '/resend') : null)),
  },
};

function filters(name) {
  const form = $('#' + name + ' .filters');
  return Object.fromEntries(new FormData(form).entries());
}

async function loadList(name, more) {
  const list = LISTS[name];
  const current = state.lists[name] || { shown: PAGE };
  const path = list.path(filters(name));
  if (!path) { replaceRows('#' + name, []); return; }
  const sep = path.includes('?') ? '&' : '?';
  let page;
  if (more) {
    page = await api('GET', path + sep + query({ limit: PAGE, after: current.next }).slice(1));
    current.rows = current.rows.concat(page.items);
  } else {
    page = await api('GET', path + sep + 'limit=' + Math.min(current.shown, 500));
    current.rows = page.items;
  }
  current.next = page.next;
  current.shown = Math.max(PAGE, current.rows.length);
  state.lists[name] = current;
  replaceRows('#' + name, current.rows.map(list.row));
  $('#' + name + ' .more').hidden = !page.next;
}

function resetList(name) {
  state.lists[name] = { shown: PAGE };
  loadList(name, false).catch(shown);
}

// Rows are replaced in one step, and only when what they show changed: no flicker, no lost hover or focus.
function replaceRows(section, rows) {
  const body = $(section + ' tbody');
  const html = rows.map((r) => r.outerHTML).join('');
  if (body.dataset.shown === html) return;
  body.dataset.shown = html;
  body.replaceChildren(...(rows.length ? rows : [el('tr', { className: 'empty' },
    el('td', { colspan: $(section + ' thead tr').children.length }, 'none'))]));
}

// ---- stories

function openStory(title, build) {
  const dialog = $('#story');
  $('h2', dialog).textContent = title;
  const body = $('.body', dialog);
  body.replaceChildren(el('p', { className: 'muted' }, 'Loading…'));
  if (!dialog.open) dialog.showModal();
  build().then((nodes) => body.replaceChildren(...nodes.flat(Infinity).filter((n) => !blank(n))))
    .catch((e) => body.replaceChildren(
    el('p', { className: 'error' }, (e.status ? e.status + ' ' : '') + e.message)));
}

const blank = (value) => value === null || value === undefined || value === '';
const field = (label, value) => [el('dt', null, label),
  el('dd', null, blank(value) ? el('span', { className: 'muted' }, '-') : value)];

function occurrences(errors) {
  if (!errors.length) return [el('p', { className: 'muted' }, 'No error recorded.')];
  return errors.map((e) => el('div', { className: 'occurrence' },
    el('h4', null, badge(e.category || 'error'), ' ', e.exceptionClass || '', ' ', time(e.occurredAt),
      e.occurrences > 1 ? el('span', { className: 'muted' }, ' ×' + e.occurrences) : null),
    el('p', { className: 'message' }, e.message),
    el('dl', null,
      field('job / run', [e.job || '-', e.runId ? [' / ', link('run ' + e.runId, () => openRun(e.runId))] : '']),
      field('item', e.itemKey ? link(e.itemKey + ' ' + (e.itemVersion || ''), () => openItem(e.job, e.itemKey)) : null),
      field('attempts', e.attempts),
      field('fingerprint', e.fingerprint ? link(e.fingerprint.slice(0, 10), () => openError(e.fingerprint)) : null),
      e.httpUrl ? field('HTTP', (e.httpMethod || '') + ' ' + e.httpUrl + ' → ' + (e.httpStatus || '')) : null),
    e.httpResponse ? el('details', null, el('summary', null, 'HTTP response'), el('pre', null, e.httpResponse)) : null,
    e.payloadExcerpt ? el('details', null, el('summary', null, 'payload'), el('pre', null, e.payloadExcerpt)) : null,
    e.stackTrace ? el('details', { className: 'stack', open: true }, el('summary', null, 'stack trace'),
      el('pre', null, e.stackTrace)) : null));
}

const link = (text, onclick) => el('a', { href: '#', onclick: (e) => { e.preventDefault(); onclick(); } }, text);

function openRun(runId) {
  openStory('Run ' + runId, async () => {
    const answer = await api('GET', '/api/runs/' + enc(runId));
    const r = answer.run;
    return [
      el('dl', { className: 'facts' }, field('job', r.job), field('status', badge(r.status)),
        field('trigger', r.trigger), field('node', r.node), field('started', time(r.startedAt)),
        field('duration', duration(r)), field('items', r.itemsTaken + ' taken, ' + r.itemsDone + ' done, '
          + r.itemsFailed + ' failed, ' + r.itemsDeferred + ' deferred'), field('retries', r.retries),
        field('fires skipped', r.firesSkipped), field('summary', r.summary)),
      el('h3', null, 'Items'), itemTable(answer.items),
      el('h3', null, 'Errors'), ...occurrences(answer.errors),
      answer.config ? el('details', null, el('summary', null, 'configuration it ran with'),
        el('pre', null, answer.config)) : null,
    ];
  });
}

function itemTable(items) {
  if (!items.length) return el('p', { className: 'muted' }, 'None.');
  return el('div', { className: 'scroll' }, el('table', null,
    el('thead', null, el('tr', null, ['Job', 'Key', 'Version', 'Status', 'Attempts', 'Run', 'Updated', 'Error']
      .map((h) => el('th', null, h)))),
    el('tbody', null, items.map((i) => el('tr', { className: 'clickable', 'data-job': i.job, 'data-status': i.status,
      onclick: () => openItem(i.job, i.key) },
    el('td', null, i.job), el('td', null, i.key), el('td', null, i.version), el('td', null, badge(i.status)),
    el('td', { className: 'num' }, i.attempts), el('td', { className: 'num' }, i.runId || ''),
    el('td', null, time(i.updatedAt)), el('td', { className: 'message' }, short(i.error, 100)))))));
}

function openItem(job, key) {
  openStory('Item ' + key, async () => {
    const answer = await api('GET', '/api/items/' + enc(job) + '/' + enc(key));
    return [
      el('h3', null, 'Path through the jobs'),
      el('ol', { className: 'path' }, answer.path.map((step) => el('li', { 'data-job': step.job },
        el('strong', null, step.job), ' ', badge(step.status), ' ',
        el('span', { className: 'muted' }, step.version + ', ' + step.attempts
          + (step.attempts === 1 ? ' attempt' : ' attempts')),
        step.runId ? [' ', link('run ' + step.runId, () => openRun(step.runId))] : '', ' ', time(step.updatedAt),
        canAct() && step.status === 'failed' ? [' ', actionButton('Redrive', 'Put item ' + key + ' (version '
          + step.version + ') back into job ' + step.job + '?', 'POST', '/api/items/' + enc(step.job) + '/'
          + enc(key) + '/redrive' + query({ version: step.version }))] : null,
        step.error ? el('div', { className: 'message bad' }, step.error) : null))),
      el('h3', null, 'Errors'), ...occurrences(answer.errors),
    ];
  });
}

const PROGRAM_ENDED = ['finished', 'errored', 'cancelled'];

// "build_report 2 of 3": the step a program is at (a finished program has gone past its last)
function programStep(p) {
  const steps = p.jobs.length;
  if (p.step >= steps) return el('span', { className: 'muted' }, 'all ' + steps + ' done');
  return [el('strong', null, p.jobs[p.step]), ' ', el('span', { className: 'muted' }, (p.step + 1) + ' of ' + steps)];
}

function cancelProgram(p, after) {
  if (!canAct() || PROGRAM_ENDED.includes(p.status)) return null;
  return actionButton('Cancel', 'Cancel program ' + p.runId + ' (' + p.jobs.join(' → ') + ', at step '
    + Math.min(p.step + 1, p.jobs.length) + ')? No step starts from now on; a step under way ends.', 'POST',
  '/api/programs/' + enc(p.runId) + '/cancel', true, after);
}

function resumeProgram(p, after) {
  if (!canAct() || p.status !== 'errored') return null;
  return actionButton('Resume', 'Resume program ' + p.runId + ' (' + p.jobs.join(' → ') + ') at step '
    + Math.min(p.step + 1, p.jobs.length) + ', ' + p.jobs[Math.min(p.step, p.jobs.length - 1)]
    + ', with the job data it stored?', 'POST', '/api/programs/' + enc(p.runId) + '/resume', true, after);
}

const jsonCode = (value) => blank(value) ? null : el('code', null, JSON.stringify(value));

function openProgram(runId) {
  openStory('Program ' + runId.slice(0, 8), async () => {
    const answer = await api('GET', '/api/programs/' + enc(runId));
    const p = answer.program;
    const attempts = (step) => answer.events.filter((e) => e.step === step);
    return [
      el('dl', { className: 'facts' }, field('run id', el('code', null, p.runId)),
        field('status', [badge(p.status), ' ', cancelProgram(p, () => openProgram(runId)),
          resumeProgram(p, () => openProgram(runId))]),
        field('step', programStep(p)), field('retries of the step', p.stepRetryCount),
        field('submitted', [time(p.createdAt), ' by ', p.submittedBy || '-']),
        p.status === 'waiting' ? field('next attempt', time(p.nextAttemptAt)) : null,
        p.claimedBy ? field('node', p.claimedBy) : null,
        p.finishedAt ? field('finished', time(p.finishedAt)) : null,
        p.erroredAt ? field('errored', time(p.erroredAt)) : null,
        p.cancelledAt ? field('cancelled', time(p.cancelledAt)) : null,
        p.errorMessage ? field('error', el('span', { className: 'bad' }, p.errorMessage)) : null,
        field('program data', jsonCode(p.programData))),
      el('h3', null, 'Steps'),
      el('div', { className: 'scroll' }, el('table', { className: 'steps' },
        el('thead', null, el('tr', null, ['#', 'Job', 'Status', 'Arguments', 'Job data', 'Attempts', 'Duration',
          'Error'].map((h) => el('th', null, h)))),
        el('tbody', null, answer.steps.map((s) => {
          const tries = attempts(s.step);
          const last = tries[tries.length - 1];
          return el('tr', { 'data-step': s.step, 'data-job': s.job, 'data-status': s.status },
            el('td', { className: 'num' }, s.step + 1), el('td', null, el('strong', null, s.job)),
            el('td', null, badge(s.status)), el('td', { className: 'arguments' }, jsonCode(s.arguments)),
            el('td', { className: 'arguments' }, jsonCode(s.jobData)), el('td', { className: 'num' }, tries.length),
            el('td', { className: 'num' }, tries.length ? millis(tries.reduce((sum, e) => sum + e.durationMs, 0))
              : ''),
            el('td', { className: 'message bad', title: last && last.exception || '' },
              last && last.error ? last.error : ''));
        })))),
      el('h3', null, 'Attempts'),
      answer.events.length ? el('div', { className: 'scroll' }, el('table', { className: 'attempts' },
        el('thead', null, el('tr', null, ['#', 'Job', 'Attempt', 'Outcome', 'Node', 'Started', 'Duration', 'Error']
          .map((h) => el('th', null, h)))),
        el('tbody', null, answer.events.map((e) => el('tr', { 'data-step': e.step, 'data-outcome': e.outcome },
          el('td', { className: 'num' }, e.step + 1), el('td', null, e.job), el('td', { className: 'num' }, e.attempt),
          el('td', null, badge(e.outcome)), el('td', null, e.node || '-'), el('td', null, time(e.startedAt)),
          el('td', { className: 'num' }, millis(e.durationMs)),
          el('td', { className: 'message bad', title: e.exception || '' }, e.error || ''))))))
        : el('p', { className: 'muted' }, 'No step has run.'),
      p.result !== null && p.result !== undefined ? el('details', null, el('summary', null,
        'result of the last job'), el('pre', null, typeof p.result === 'string' ? p.result
        : JSON.stringify(p.result, null, 2))) : null,
    ];
  });
}

// ---- processes: each declared one with its latest run; its story lists its runs, a run's story its tasks

// Calls again the tasks of a process run that ended in error (the API answers 409 when none is in error any more).
function retryProcessRun(r, after) {
  if (!canAct() || !r.failedTasks) return null;
  return actionButton('Retry', 'Call again the ' + (r.failedTasks === 1 ? 'task' : r.failedTasks + ' tasks')
    + ' of process ' + r.process + ' run ' + r.runId + ' (key ' + (r.key || '-') + ') that ended in error?', 'POST',
  '/api/processes/' + enc(r.process) + '/runs/' + enc(r.runId) + '/retry', true, after);
}

const taskCounts = (r) => [el('td', { className: 'num' }, r.tasks), el('td', { className: 'num' }, r.openTasks),
  el('td', { className: 'num' + (r.failedTasks ? ' bad' : '') }, r.failedTasks)];

function renderProcesses(processes) {
  replaceRows('#processes', processes.map((p) => {
    const r = p.lastRun;
    return el('tr', {
      'data-process': p.name, 'data-status': r ? r.status : null, className: 'clickable',
      onclick: () => openProcess(p.name),
    },
    el('td', null, el('strong', null, p.name)),
    r ? [el('td', { className: 'run' }, 'run ' + r.runId), el('td', null, badge(r.status)),
      el('td', null, r.key || '-'), el('td', null, time(r.startedAt)), el('td', { className: 'num' }, duration(r)),
      taskCounts(r)]
      : [el('td', { className: 'run muted' }, 'never'), el('td'), el('td'), el('td'), el('td'), el('td'), el('td'),
        el('td')],
    el('td', { className: 'act-col' }, r ? retryProcessRun(r) : null));
  }));
}

function openProcess(name) {
  openStory('Process ' + name, async () => {
    const p = state.processes.find((x) => x.name === name) || {};
    const runs = await api('GET', '/api/processes/' + enc(name) + '/runs?limit=' + PAGE);
    return [
      el('dl', { className: 'facts' }, field('start URL', p.startUrl ? el('code', null, p.startUrl) : null),
        field('timeout', isoDuration(p.timeout))),
      el('h3', null, 'Runs', runs.next ? el('span', { className: 'muted' }, ' (the latest ' + PAGE + ')') : null),
      runs.items.length ? el('div', { className: 'scroll' }, el('table', { className: 'process-runs' },
        el('thead', null, el('tr', null, ['Run', 'Status', 'Key', 'Requestor', 'Started', 'Duration', 'Tasks',
          'Open', 'In error', ''].map((h) => el('th', null, h)))),
        el('tbody', null, runs.items.map((r) => el('tr', {
          'data-run': r.runId, 'data-status': r.status, className: 'clickable',
          onclick: () => openProcessRun(name, r.runId),
        },
        el('td', { className: 'num' }, r.runId), el('td', null, badge(r.status)), el('td', null, r.key || '-'),
        el('td', null, r.requestor || r.startedBy || '-'), el('td', null, time(r.startedAt)),
        el('td', { className: 'num' }, duration(r)), taskCounts(r),
        el('td', { className: 'act-col' }, retryProcessRun(r, () => openProcess(name))))))))
        : el('p', { className: 'muted' }, 'No run yet.'),
    ];
  });
}

// a task's answer folded under its first characters: it holds the next activities, and may be long
function taskOutput(output) {
  if (blank(output)) return null;
  const text = typeof output === 'string' ? output : JSON.stringify(output);
  return el('details', null, el('summary', null, el('code', null, short(text, 40))),
    el('pre', null, typeof output === 'string' ? output : JSON.stringify(output, null, 2)));
}

function openProcessRun(name, runId) {
  openStory('Process ' + name + ', run ' + runId, async () => {
    const answer = await api('GET', '/api/processes/' + enc(name) + '/runs/' + enc(runId));
    const r = answer.run;
    return [
      el('dl', { className: 'facts' }, field('process', link(r.process, () => openProcess(r.process))),
        field('status', [badge(r.status), ' ', retryProcessRun(r, () => openProcessRun(name, runId))]),
        field('key', r.key), field('requestor', r.requestor), field('started by', r.startedBy),
        field('started', time(r.startedAt)), field('duration', duration(r)),
        field('tasks', r.tasks + ' in all, ' + r.openTasks + ' open, ' + r.failedTasks + ' in error'),
        field('data', jsonCode(r.data))),
      el('h3', null, 'Tasks'),
      answer.tasks.length ? el('div', { className: 'scroll' }, el('table', { className: 'tasks' },
        el('thead', null, el('tr', null, ['Task', 'Status', 'Attempts', 'Node', 'Scheduled', 'Started', 'Duration',
          'HTTP', 'Error', 'Output'].map((h) => el('th', null, h)))),
        el('tbody', null, answer.tasks.map((t) => el('tr', { 'data-task': t.name, 'data-status': t.status },
          el('td', null, el('strong', null, t.name), t.url ? el('div', { className: 'muted' }, t.url) : null),
          el('td', null, badge(t.status)), el('td', { className: 'num' }, t.attempts), el('td', null, t.node || '-'),
          el('td', null, time(t.scheduledAt)), el('td', null, time(t.startedAt)),
          el('td', { className: 'num' }, duration(t)), el('td', { className: 'num' }, t.httpStatus || ''),
          el('td', { className: 'message bad', title: t.error || '' }, short(t.error, 200)),
          el('td', { className: 'arguments' }, taskOutput(t.output)))))))
        : el('p', { className: 'muted' }, 'No task yet.'),
    ];
  });
}

function openError(fingerprint) {
  openStory('Error ' + fingerprint.slice(0, 10), async () => {
    const answer = await api('GET', '/api/errors/' + enc(fingerprint));
    const f = answer.fingerprint;
    return [
      el('dl', { className: 'facts' }, field('fingerprint', el('code', null, f.fingerprint)), field('job', f.job),
        field('status', badge(f.status)), field('category', f.category), field('exception', f.exceptionClass),
        field('message', f.message), field('count', f.occurrences), field('first seen', time(f.firstSeen)),
        field('last seen', time(f.lastSeen)), field('note', f.note)),
      el('h3', null, 'Latest occurrences'), ...occurrences(answer.occurrences),
    ];
  });
}

// ---- refresh

function shown(e) {
  if (e && e.status !== 401) message('failed', 'The factory did not answer: ' + e.message);
}

async function refresh() {
  if (!sessionStorage.getItem(TOKEN)) return;
  try {
    // The first answer about the jobs fills the job choices that the lists filtered by job read: those lists wait
    // for it once. From then on every call of a refresh goes at once, and the refresh takes as long as its slowest.
    const names = Object.keys(LISTS);
    const waitForJobs = !state.jobs.length;
    const load = (which) => Promise.all(which.map((name) => loadList(name, false)));
    const [jobs, processes] = await Promise.all([api('GET', '/api/jobs?runs=' + TIMELINE),
      api('GET', '/api/processes'), load(waitForJobs ? names.filter((name) => !LISTS[name].byJob) : names)]);
    state.jobs = jobs.jobs;
    fillJobChoices();
    renderJobs(jobs.jobs);
    state.processes = processes.processes;
    renderProcesses(processes.processes);
    if (waitForJobs) await load(names.filter((name) => LISTS[name].byJob));
    $('#refreshed').textContent = 'updated ' + new Date().toLocaleTimeString();
    $('#refreshed').classList.remove('stale');
  } catch (e) {
    $('#refreshed').classList.add('stale');
    shown(e);
  }
}

function fillJobChoices() {
  const names = state.jobs.map((j) => j.name);
  for (const select of document.querySelectorAll('.job-choice')) {
    const known = [...select.options].map((o) => o.value).filter((v) => v);
    if (known.join() === names.join()) continue;
    const chosen = select.value;
    const keep = [...select.options].filter((o) => !o.value);
    select.replaceChildren(...keep, ...names.map((n) => el('option', { value: n }, n)));
    if (names.includes(chosen)) select.value = chosen;
    else if (!keep.length) {
      const failing = state.jobs.find((j) => j.items && j.items.failed);
      select.value = failing ? failing.name : names[0];
    }
  }
}

// ---- signing in and out

async function signIn(token) {
  sessionStorage.setItem(TOKEN, token);
  try {
    state.me = await api('GET', '/api/me');
  } catch (e) {
    sessionStorage.removeItem(TOKEN);
    $('#sign-in-error').textContent = e.status === 401 ? 'This token is unknown or revoked.' : e.message;
    showSignIn();
    return;
  }
  document.body.classList.toggle('can-act', canAct());
  $('#who').textContent = state.me.name + ' (' + state.me.role + ')';
  $('#sign-in').hidden = true;
  $('#main').hidden = false;
  $('#sign-out').hidden = false;
  state.lists = {};
  for (const body of document.querySelectorAll('tbody')) delete body.dataset.shown;
  await refresh();
  clearInterval(state.timer);
  state.timer = setInterval(refresh, REFRESH_MS);
}

function showSignIn() {
  $('#main').hidden = true;
  $('#sign-out').hidden = true;
  $('#who').textContent = '';
  $('#refreshed').textContent = '';
  $('#sign-in').hidden = false;
  $('#token').focus();
}

function signOut(why) {
  clearInterval(state.timer);
  sessionStorage.removeItem(TOKEN);
  state.me = null;
  document.body.classList.remove('can-act');
  for (const body of document.querySelectorAll('tbody')) { body.replaceChildren(); delete body.dataset.shown; }
  $('#sign-in-error').textContent = why || '';
  showSignIn();
}

document.addEventListener('DOMContentLoaded', () => {
  $('#sign-in-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const token = $('#token').value.trim();
    $('#token').value = '';
    $('#sign-in-error').textContent = '';
    signIn(token);
  });
  $('#sign-out').addEventListener('click', () => signOut());
  $('#story .close').addEventListener('click', () => $('#story').close());
  $('#confirm [value=cancel]').addEventListener('click', () => $('#confirm').close('cancel'));
  for (const name of Object.keys(LISTS)) {
    const form = $('#' + name + ' .filters');
    form.addEventListener('submit', (e) => e.preventDefault());
    form.addEventListener('change', () => resetList(name));
    form.addEventListener('input', (e) => { if (e.target.name === 'key') resetList(name); });
    $('#' + name + ' .more').addEventListener('click', () => loadList(name, true).catch(shown));
  }
  if (sessionStorage.getItem(TOKEN)) signIn(sessionStorage.getItem(TOKEN));
  else showSignIn();
});
