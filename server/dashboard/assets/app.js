// The dashboard page: routes (#/, #/campaign/ID, #/trial/ID), the API, the
// tables, the login form, and the once-a-second poll that redraws what
// changed. Charts live in charts.js.
'use strict';

const dash = { sequence: -1, charts: {}, table: { offset: 0, limit: 50, sort: 'number', desc: false, state: '', filter: '' } };
window.dash = dash;

class AuthError extends Error {}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children.flat()) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

async function api(path) {
  const r = await fetch(path, { credentials: 'same-origin', cache: 'no-store' });
  if (r.status === 401) throw new AuthError('token required');
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

const fmt = (v, d = 4) => (v === null || v === undefined) ? '' : (typeof v === 'number' ? +v.toFixed(d) : String(v));
const when = us => us ? new Date(us / 1000).toISOString().replace('T', ' ').slice(0, 19) : '';

function showLogin(main) {
  const input = el('input', { id: 'token', type: 'password', placeholder: 'server token' });
  main.replaceChildren(el('div', { id: 'login', class: 'card' },
    el('h2', {}, 'Token required'),
    el('p', {}, 'This server asks for its bearer token (the --token-file of convrnn-server).'),
    input, ' ',
    el('button', { id: 'login-button', onclick: () => {
      document.cookie = `convrnn_token=${input.value}; path=/; SameSite=Strict`;
      route();
    } }, 'Log in')));
}

// --- campaigns ---------------------------------------------------------
async function campaignsPage(main) {
  const { campaigns } = await api('/api/campaigns');
  const rows = campaigns.map(c => el('tr', { class: 'campaign-row', 'data-id': c.id },
    el('td', {}, el('a', { href: `#/campaign/${c.id}` }, c.name)),
    el('td', {}, c.state.toLowerCase()),
    el('td', {}, `${c.counts.completed} done, ${c.counts.running + c.counts.leased} running, ` +
      `${c.counts.pruned} pruned, ${c.counts.failed} failed of ${c.max_trials}`),
    el('td', {}, c.best ? `${fmt(c.best.value)} (${c.best.metric})` : ''),
    el('td', {}, when(c.created_unix_us)),
    el('td', {}, c.workers)));
  main.replaceChildren(el('h1', {}, 'Campaigns'), el('table', { id: 'campaigns' },
    el('tr', {}, ['id/name', 'state', 'progress', 'best', 'started', 'workers'].map(h => el('th', {}, h))), rows));
}

// --- one campaign --------------------------------------------------------
function tableQuery(id) {
  const t = dash.table;
  const q = new URLSearchParams({ offset: t.offset, limit: t.limit, sort: t.sort, desc: t.desc ? 1 : 0, state: t.state, filter: t.filter });
  return `/api/campaigns/${id}/trials?${q}`;
}

function trialTable(campaign, page) {
  const t = dash.table;
  const metrics = campaign.objectives.map(o => o.split(':')[0]);
  const columns = [['number', '#'], ['state', 'state'], ['attempt', 'attempt'],
    ...metrics.map(m => [m, m]), ...campaign.params.map(p => [p, p])];
  const head = el('tr', {}, columns.map(([key, label]) => el('th', {
    class: 'sortable' + (t.sort === key ? ' sorted' + (t.desc ? ' desc' : '') : ''), 'data-key': key,
    onclick: () => { t.desc = t.sort === key ? !t.desc : false; t.sort = key; t.offset = 0; refresh(); } }, label)));
  const rows = page.rows.map(r => el('tr', { class: 'trial-row', 'data-id': r.id },
    el('td', {}, el('a', { href: `#/trial/${r.id}` }, r.number)),
    el('td', { class: `state-${r.state}` }, r.state.toLowerCase()),
    el('td', {}, r.attempt),
    metrics.map(m => el('td', {}, fmt(r.metrics[m]))),
    campaign.params.map(p => el('td', {}, fmt(r.params[p])))));
  return el('div', { class: 'wide' }, el('table', { id: 'trials' }, head, rows));
}

function tableControls(total) {
  const t = dash.table;
  const state = el('select', { id: 'state-filter', onchange: e => { t.state = e.target.value; t.offset = 0; refresh(); } },
    ['', 'pending', 'leased', 'running', 'completed', 'pruned', 'failed'].map(s => el('option', { value: s }, s || 'any state')));
  state.value = t.state;
  const filter = el('input', { id: 'filter', size: 40, placeholder: 'e.g. train.lr<0.05, layers[1].cell.type=rgc, val_top1>0.8' });
  filter.value = t.filter;
  filter.addEventListener('change', e => { t.filter = e.target.value; t.offset = 0; refresh(); });
  const from = total ? t.offset + 1 : 0, to = Math.min(total, t.offset + t.limit);
  return el('div', { class: 'controls' }, state, filter,
    el('button', { id: 'prev', onclick: () => { t.offset = Math.max(0, t.offset - t.limit); refresh(); } }, '◀'),
    el('span', { id: 'page-info' }, `${from}–${to} of ${total}`),
    el('button', { id: 'next', onclick: () => { if (t.offset + t.limit < total) { t.offset += t.limit; refresh(); } } }, '▶'));
}

async function campaignPage(main, id, redraw) {
  const [campaign, page, points] = await Promise.all([
    api(`/api/campaigns/${id}`), api(tableQuery(id)), api(`/api/campaigns/${id}/points`)]);
  const c = campaign.counts;
  const head = el('div', {}, el('h1', {}, `${campaign.name} (campaign ${id}) — ${campaign.state.toLowerCase()}`),
    el('p', { id: 'counts' }, `${c.completed} completed, ${c.running + c.leased} running, ${c.pending} pending, ` +
      `${c.pruned} pruned, ${c.failed} failed of ${campaign.max_trials}; objectives ${campaign.objectives.join(', ')}`));
  const tableCard = el('div', { class: 'card', id: 'table-card' }, el('h2', {}, 'Trials'),
    tableControls(page.total), trialTable(campaign, page));
  if (redraw && document.getElementById('charts')) {
    main.querySelector('#head').replaceChildren(head);
    main.querySelector('#table-card').replaceWith(tableCard);
    Charts.update(dash, points, id);
    return;
  }
  main.replaceChildren(el('div', { id: 'head' }, head), tableCard, Charts.layout(points));
  Charts.draw(dash, points, id);
}

// --- one trial -----------------------------------------------------------
async function trialPage(main, id) {
  const t = await api(`/api/trials/${id}`);
  const params = Object.entries(t.params).map(([k, v]) => el('tr', {}, el('td', {}, k), el('td', {}, fmt(v))));
  const metrics = Object.entries(t.metrics).map(([k, v]) => el('tr', {}, el('td', {}, k), el('td', {}, fmt(v))));
  const keys = [...new Set(t.epochs.flatMap(e => Object.keys(e.metrics || {})))].sort();
  const epochs = t.epochs.map(e => el('tr', { class: 'epoch-row' }, el('td', {}, e.attempt), el('td', {}, e.epoch),
    el('td', {}, when(e.reported_unix_us)), keys.map(k => el('td', {}, fmt((e.metrics || {})[k])))));
  const scores = t.scores.map(s => el('tr', {}, el('td', {}, s.id), el('td', {}, s.state),
    el('td', {}, s.result ? JSON.stringify(s.result.regions || s.result).slice(0, 300) : s.error)));
  main.replaceChildren(
    el('h1', {}, `Trial ${t.number} of campaign `, el('a', { href: `#/campaign/${t.campaign_id}` }, t.campaign_id),
      ` — ${t.state.toLowerCase()} (attempt ${t.attempt})`),
    t.failure_reason ? el('p', { class: 'error' }, t.failure_reason) : '',
    el('div', { class: 'grid' },
      el('div', { class: 'card' }, el('h2', {}, 'Wiring'), Charts.diagram(t.spec)),
      el('div', { class: 'card' }, el('h2', {}, 'Parameters'), el('table', { id: 'params' }, params),
        el('h2', {}, 'Final metrics'), el('table', { id: 'metrics' }, metrics)),
      el('div', { class: 'card wide' }, el('h2', {}, 'Epochs by attempt'), el('table', { id: 'epochs' },
        el('tr', {}, ['attempt', 'epoch', 'reported', ...keys].map(k => el('th', {}, k))), epochs)),
      el('div', { class: 'card' }, el('h2', {}, 'Neural scores'), el('table', { id: 'scores' }, scores))));
}

// --- routing and live updates ---------------------------------------------
async function route(redraw = false) {
  const main = document.getElementById('main');
  const [, kind, id] = (location.hash.match(/^#\/(campaign|trial)\/(\d+)/) || []);
  try {
    if (kind === 'campaign') await campaignPage(main, id, redraw);
    else if (kind === 'trial') await trialPage(main, id);
    else await campaignsPage(main);
    dash.rendered = Date.now();
  } catch (e) {
    if (e instanceof AuthError) showLogin(main);
    else main.replaceChildren(el('p', { class: 'error' }, String(e.message || e)));
  }
}
const refresh = () => route(true);

async function poll() {
  try {
    const { sequence } = await api('/api/version');
    if (sequence !== dash.sequence) {
      const first = dash.sequence < 0;
      dash.sequence = sequence;
      document.getElementById('live').textContent = `live · ${new Date().toLocaleTimeString()}`;
      if (!first && !document.getElementById('login')) await route(true);
    }
  } catch (e) { /* the login form or the error shows; keep polling */ }
  setTimeout(poll, 1000);
}

window.addEventListener('hashchange', () => {
  dash.table = { offset: 0, limit: 50, sort: 'number', desc: false, state: '', filter: '' };
  route();
});
route().then(poll);
