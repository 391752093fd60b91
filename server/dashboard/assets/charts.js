// The campaign page's charts (Chart.js from Debian) and the trial's wiring
// diagram (SVG). Every chart draws from /api/campaigns/ID/points.
'use strict';

const Charts = (() => {
  const GOALS = { val_top1: 'max', params: 'min', flops: 'min' };
  const card = (id, title, ...extra) => {
    const d = document.createElement('div');
    d.className = 'card';
    d.innerHTML = `<h2>${title}</h2>`;
    extra.forEach(x => d.append(x));
    const c = document.createElement(id === 'parcoords' ? 'canvas' : 'canvas');
    c.id = id;
    d.append(c);
    return d;
  };
  const base = (type, datasets, extra = {}) => ({ type, data: { datasets },
    options: Object.assign({ animation: false, parsing: true, normalized: true, maintainAspectRatio: true,
      plugins: { legend: { display: true } } }, extra) });

  // Metric -> value of a point (objectives, val_top1, params, flops).
  function metricOf(points, t, metric) {
    const i = points.objectives.findIndex(o => o.split(':')[0] === metric);
    if (i >= 0) return t.v[i];
    if (metric === 'val_top1') return t.a;
    if (metric === 'params') return t.q[0];
    if (metric === 'flops') return t.q[1];
    return null;
  }
  const goalOf = (points, metric) => {
    const o = points.objectives.find(o => o.split(':')[0] === metric);
    return o ? o.split(':')[1] : (GOALS[metric] || 'max');
  };
  const done = points => points.trials.filter(t => t.s === 'COMPLETED');

  function historyData(points) {
    const [metric, goal] = points.objectives[0].split(':');
    const pts = done(points).map(t => ({ x: t.n, y: metricOf(points, t, metric), id: t.id })).filter(p => p.y !== null);
    let best = null;
    const line = pts.map(p => {
      best = best === null ? p.y : (goal === 'max' ? Math.max(best, p.y) : Math.min(best, p.y));
      return { x: p.x, y: best };
    });
    return [{ label: metric, data: pts, type: 'scatter', backgroundColor: '#1a5fb4' },
            { label: 'best so far', data: line, type: 'line', borderColor: '#26734d', pointRadius: 0, stepped: true }];
  }

  function curvesData(points) {
    const series = state => {
      const data = [];
      points.trials.filter(t => t.s === state && t.k.length).forEach(t => {
        t.k.forEach(([x, y]) => data.push({ x, y, id: t.id }));
        data.push({ x: null, y: null });
      });
      return data;
    };
    return [{ label: 'completed', data: series('COMPLETED'), borderColor: 'rgba(26,95,180,.35)', pointRadius: 1, spanGaps: false },
            { label: 'pruned (cut)', data: series('PRUNED'), borderColor: 'rgba(179,89,0,.6)', borderDash: [4, 3], pointRadius: 2, spanGaps: false },
            { label: 'running', data: series('RUNNING'), borderColor: 'rgba(0,0,0,.5)', pointRadius: 2, spanGaps: false }];
  }

  async function paretoData(points, id) {
    const x = document.getElementById('pareto-x').value, y = document.getElementById('pareto-y').value;
    const q = new URLSearchParams([['objective', `${x}:${goalOf(points, x)}`], ['objective', `${y}:${goalOf(points, y)}`]]);
    const front = await api(`/api/campaigns/${id}/pareto?${q}`);
    const on = new Set(front.trial_ids);
    const all = done(points).map(t => ({ x: metricOf(points, t, x), y: metricOf(points, t, y), id: t.id }))
      .filter(p => p.x !== null && p.y !== null);
    const best = all.filter(p => on.has(p.id)).sort((a, b) => a.x - b.x);
    dash.paretoIds = front.trial_ids;
    return [{ label: 'front', data: best, backgroundColor: '#b00020', borderColor: '#b00020', showLine: true, pointRadius: 5 },
            { label: 'completed', data: all.filter(p => !on.has(p.id)), backgroundColor: 'rgba(120,120,120,.5)' }];
  }

  function edgesData(points) {
    const [metric, goal] = points.objectives[0].split(':');
    const ranked = done(points).filter(t => metricOf(points, t, metric) !== null)
      .sort((a, b) => (goal === 'max' ? -1 : 1) * (metricOf(points, a, metric) - metricOf(points, b, metric)));
    const k = Math.max(5, Math.ceil(ranked.length / 10));
    const freq = ts => { const f = {}; ts.forEach(t => t.e.forEach(([a, b]) => { f[`${a}→${b}`] = (f[`${a}→${b}`] || 0) + 1; })); return f; };
    const top = freq(ranked.slice(0, k)), all = freq(ranked);
    const labels = Object.keys(all).sort();
    const share = (f, n) => labels.map(l => n ? (f[l] || 0) / n : 0);
    return { labels, datasets: [{ label: `top ${Math.min(k, ranked.length)}`, data: share(top, Math.min(k, ranked.length)), backgroundColor: '#b00020' },
                                 { label: 'all completed', data: share(all, ranked.length), backgroundColor: '#8a9bb0' }] };
  }

  function cellsData(points) {
    const [metric] = points.objectives[0].split(':');
    const labels = [];
    const data = [];
    done(points).forEach(t => t.c.forEach((cell, layer) => {
      const label = `layer ${layer}: ${cell}`;
      let i = labels.indexOf(label);
      if (i < 0) { labels.push(label); i = labels.length - 1; }
      const y = metricOf(points, t, metric);
      if (y !== null) data.push({ x: i + (Math.random() - 0.5) * 0.3, y, id: t.id });
    }));
    return { labels, data };
  }

  function parcoords(points) {
    const canvas = document.getElementById('parcoords');
    const ctx = canvas.getContext('2d');
    canvas.width = canvas.parentElement.clientWidth - 24;
    canvas.height = 300;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const [metric] = points.objectives[0].split(':');
    const ts = done(points);
    const axes = points.params.map((name, i) => {
      const vals = ts.map(t => t.p[i]).filter(v => v !== null);
      const numeric = vals.every(v => typeof v === 'number');
      const cats = numeric ? null : [...new Set(vals.map(String))].sort();
      const nums = numeric ? vals : [];
      return { name, get: t => t.p[i], numeric, cats, lo: Math.min(...nums), hi: Math.max(...nums) };
    }).filter(a => a.numeric ? a.hi > a.lo : a.cats.length > 1);
    const ys = ts.map(t => metricOf(points, t, metric));
    const lo = Math.min(...ys), hi = Math.max(...ys);
    axes.push({ name: metric, get: t => metricOf(points, t, metric), numeric: true, lo, hi });
    const x = i => 40 + i * (canvas.width - 80) / Math.max(1, axes.length - 1);
    const y = (a, v) => {
      if (v === null || v === undefined) return null;
      const f = a.numeric ? (a.hi > a.lo ? (v - a.lo) / (a.hi - a.lo) : 0.5) : (a.cats.indexOf(String(v)) + 0.5) / a.cats.length;
      return 270 - f * 240;
    };
    ts.forEach(t => {
      const v = metricOf(points, t, metric);
      const f = hi > lo ? (v - lo) / (hi - lo) : 0.5;
      ctx.strokeStyle = `hsla(${240 - 200 * f}, 70%, 45%, 0.35)`;
      ctx.beginPath();
      let started = false;
      axes.forEach((a, i) => {
        const py = y(a, a.get(t));
        if (py === null) { started = false; return; }
        if (started) ctx.lineTo(x(i), py); else ctx.moveTo(x(i), py);
        started = true;
      });
      ctx.stroke();
    });
    ctx.fillStyle = '#222';
    ctx.font = '11px sans-serif';
    axes.forEach((a, i) => {
      ctx.fillRect(x(i), 30, 1, 240);
      ctx.save(); ctx.translate(x(i) - 4, 290); ctx.fillText(a.name.slice(-24), -30, 0); ctx.restore();
    });
    dash.parcoordsLines = ts.length;
    dash.parcoordsAxes = axes.map(a => a.name);
  }

  async function importance(id) {
    const c = dash.charts.importance;
    try {
      const r = await api(`/api/campaigns/${id}/importance`);
      c.data.labels = r.params.map(p => p.name);
      c.data.datasets[0].data = r.params.map(p => p.importance);
      c.data.datasets[0].label = `importance for ${r.metric} (fANOVA, ${r.trials} trials)`;
    } catch (e) {
      c.data.labels = [];
      c.data.datasets[0].label = String(e.message || e);
    }
    c.update();
  }

  function layout(points) {
    const metrics = [...new Set([...points.objectives.map(o => o.split(':')[0]), 'val_top1', 'params', 'flops'])];
    const select = (sel, value) => {
      const s = document.createElement('select');
      s.id = sel;
      metrics.forEach(m => s.append(new Option(m, m)));
      s.value = value;
      return s;
    };
    const grid = document.createElement('div');
    grid.className = 'grid';
    grid.id = 'charts';
    grid.append(card('history', 'Optimization history'), card('curves', 'Learning curves (validation top-1)'),
      card('pareto', 'Pareto front (click a point)', select('pareto-x', 'params'), select('pareto-y', 'val_top1')),
      card('parcoords', 'Parallel coordinates'), card('importance', 'Parameter importance'),
      card('edges', 'Feedback edges: top trials vs all'), card('cells', 'Objective per cell type'));
    return grid;
  }

  function openTrial(chart) {
    return (event, elements) => {
      if (!elements.length) return;
      const p = chart().data.datasets[elements[0].datasetIndex].data[elements[0].index];
      if (p && p.id) location.hash = `#/trial/${p.id}`;
    };
  }

  async function draw(d, points, id) {
    Object.values(d.charts).forEach(c => c.destroy());
    d.charts = {};
    const linear = { x: { type: 'linear' } };
    d.charts.history = new Chart(document.getElementById('history'), base('scatter', historyData(points),
      { scales: { x: { type: 'linear', title: { display: true, text: 'trial' } } }, onClick: openTrial(() => d.charts.history) }));
    d.charts.curves = new Chart(document.getElementById('curves'), base('line', curvesData(points),
      { scales: { x: { type: 'linear', title: { display: true, text: 'epoch' } } } }));
    d.charts.pareto = new Chart(document.getElementById('pareto'), base('scatter', await paretoData(points, id),
      { scales: linear, onClick: openTrial(() => d.charts.pareto) }));
    d.charts.importance = new Chart(document.getElementById('importance'), base('bar', [{ label: 'importance', data: [], backgroundColor: '#1a5fb4' }],
      { indexAxis: 'y' }));
    const edges = edgesData(points);
    d.charts.edges = new Chart(document.getElementById('edges'), { type: 'bar', data: edges,
      options: { animation: false, scales: { y: { title: { display: true, text: 'share of trials' } } } } });
    const cells = cellsData(points);
    d.charts.cells = new Chart(document.getElementById('cells'), base('scatter', [{ label: points.objectives[0], data: cells.data, backgroundColor: 'rgba(26,95,180,.5)' }],
      { scales: { x: { type: 'linear', min: -0.5, max: cells.labels.length - 0.5, ticks: { stepSize: 1, callback: v => cells.labels[v] || '' } } },
        onClick: openTrial(() => d.charts.cells) }));
    ['pareto-x', 'pareto-y'].forEach(s => document.getElementById(s).addEventListener('change', async () => {
      d.charts.pareto.data.datasets = await paretoData(d.points, id);
      d.charts.pareto.update();
    }));
    d.points = points;
    parcoords(points);
    await importance(id);
  }

  async function update(d, points, id) {
    d.points = points;
    d.charts.history.data.datasets = historyData(points);
    d.charts.curves.data.datasets = curvesData(points);
    d.charts.pareto.data.datasets = await paretoData(points, id);
    const edges = edgesData(points);
    d.charts.edges.data.labels = edges.labels;
    d.charts.edges.data.datasets = edges.datasets;
    const cells = cellsData(points);
    d.charts.cells.data.datasets[0].data = cells.data;
    Object.values(d.charts).forEach(c => c.update());
    parcoords(points);
    await importance(id);
  }

  // The wiring: input at the bottom, layers upward, the readout on top;
  // feedforward arrows in the middle, feedback edges as arcs on the right.
  function diagram(spec) {
    const ns = 'http://www.w3.org/2000/svg';
    const layers = (spec && spec.layers) || [];
    const n = layers.length, h = 56, w = 480, top = 40;
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('id', 'diagram');
    svg.setAttribute('width', w);
    svg.setAttribute('height', top + (n + 2) * h);
    svg.innerHTML = '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker></defs>';
    const yOf = i => top + (n - i) * h;  // i = -1: input, n: readout
    const add = (tag, attrs, text) => {
      const e = document.createElementNS(ns, tag);
      Object.entries(attrs).forEach(([k, v]) => e.setAttribute(k, v));
      if (text !== undefined) e.textContent = text;
      svg.append(e);
      return e;
    };
    const box = (i, label, cls, fill) => {
      const g = add('g', { class: cls, 'data-layer': i });
      const r = document.createElementNS(ns, 'rect');
      Object.entries({ x: 40, y: yOf(i), width: 300, height: 34, rx: 5, fill, stroke: '#345' }).forEach(([k, v]) => r.setAttribute(k, v));
      const t = document.createElementNS(ns, 'text');
      Object.entries({ x: 50, y: yOf(i) + 22, 'font-size': 13 }).forEach(([k, v]) => t.setAttribute(k, v));
      t.textContent = label;
      g.append(r, t);
    };
    box(-1, 'image', 'input', '#eee');
    layers.forEach((l, i) => {
      const cell = (l.cell && l.cell.type) || 'feedforward';
      box(i, `layer ${i}: conv ${l.channels}×${l.kernel}${l.pool ? ' + pool' : ''} · ${cell}`, 'layer', cell === 'feedforward' ? '#dde7f3' : '#f6e3c8');
    });
    box(n, 'readout', 'readout', '#eee');
    for (let i = -1; i < n; ++i) {
      add('line', { x1: 190, y1: yOf(i), x2: 190, y2: yOf(i + 1) + 34, stroke: '#444', 'marker-end': 'url(#arrow)' });
    }
    ((spec && spec.feedback) || []).forEach((e, k) => {
      const y1 = yOf(e.from) + 17, y2 = yOf(e.to) + 17, bulge = 370 + 25 * (e.from - e.to) + 6 * k;
      add('path', { class: 'feedback', 'data-from': e.from, 'data-to': e.to, fill: 'none', stroke: '#b00020',
        d: `M340,${y1} C${bulge},${y1} ${bulge},${y2} 340,${y2}`, 'marker-end': 'url(#arrow)' });
      add('text', { x: bulge - 20, y: (y1 + y2) / 2, 'font-size': 11, fill: '#b00020' }, `${e.from}→${e.to}`);
    });
    return svg;
  }

  return { layout, draw, update, diagram };
})();
