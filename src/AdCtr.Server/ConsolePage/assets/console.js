// AdCtr console: reads the server's JSON API every 2 s and draws the charts as inline SVG (no library, nothing
// loaded from elsewhere). Every drawn value also sits in a data-* attribute so that tests (and curious people)
// can check it against the API.
'use strict';

(function () {
  const REFRESH_MS = 2000;
  const CAMPAIGNS = 12;
  const SVG = 'http://www.w3.org/2000/svg';
  const $ = (id) => document.getElementById(id);

  // ---- formatting ----
  const intFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  const fmtInt = (v) => (v === null || v === undefined ? '–' : intFormat.format(v));
  const fmtFixed = (v, digits) => (v === null || v === undefined ? '–' : v.toFixed(digits));
  const fmtPercent = (v, digits) => (v === null || v === undefined ? '–' : (100 * v).toFixed(digits) + ' %');
  const fmtRate = (v) => (v === null || v === undefined ? '–' : v >= 100 ? intFormat.format(v) : v.toFixed(1));

  function fmtBytes(bytes) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (bytes >= 1024 && i < units.length - 1) {
      bytes /= 1024;
      i++;
    }

    return (i === 0 || bytes >= 100 ? Math.round(bytes) : bytes.toFixed(1)) + ' ' + units[i];
  }

  function fmtAge(iso, now) {
    if (!iso) return '–';
    const seconds = Math.max(0, (now - Date.parse(iso)) / 1000);
    if (seconds < 60) return Math.round(seconds) + ' s ago';
    if (seconds < 3600) return Math.round(seconds / 60) + ' min ago';
    return Math.round(seconds / 3600) + ' h ago';
  }

  function fmtClock(iso) {
    const d = new Date(iso);
    const pad = (n) => String(n).padStart(2, '0');
    return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }

  // As many decimals as the tick step needs (0.025 needs 3), so that every label is exact.
  function fmtTick(v, step) {
    let digits = 0;
    while (digits < 8 && Math.abs(Math.round(step * Math.pow(10, digits)) - step * Math.pow(10, digits)) > 1e-6) digits++;
    return v.toFixed(digits);
  }

  // ---- DOM helpers ----
  function el(name, attrs, text) {
    const node = document.createElementNS(SVG, name);
    for (const key in attrs) node.setAttribute(key, attrs[key]);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function html(name, className, text) {
    const node = document.createElement(name);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function setValue(id, value, text) {
    const node = $(id);
    node.textContent = text;
    node.dataset.value = value === null || value === undefined ? '' : String(value);
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  // Round numbers for axis ticks (1, 2, 5 x 10^k), about `count` of them.
  function ticks(min, max, count) {
    const span = max - min;
    if (!(span > 0)) return { step: 1, values: [min] };
    const raw = span / count;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) || 10 * power;
    const values = [];
    for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) values.push(v);
    return { step, values };
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(v)));
    return [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].map((m) => m * power).find((m) => m >= v);
  }

  // A frame with axes and grid lines; returns scale functions.
  function frame(svg, box, x, y, labels) {
    const { left, top, right, bottom } = box;
    const width = 440 - left - right;
    const height = 300 - top - bottom;
    const sx = (v) => left + ((v - x.min) / (x.max - x.min || 1)) * width;
    const sy = (v) => top + height - ((v - y.min) / (y.max - y.min || 1)) * height;
    const grid = el('g', { class: 'grid-lines' });
    const yt = ticks(y.min, y.max, 6);
    for (const v of yt.values) {
      grid.appendChild(el('line', { x1: left, x2: left + width, y1: sy(v), y2: sy(v) }));
      svg.appendChild(el('text', { class: 'tick', x: left - 6, y: sy(v) + 4, 'text-anchor': 'end' }, fmtTick(v, yt.step)));
    }

    if (x.ticks) {
      for (const t of x.ticks) {
        grid.appendChild(el('line', { x1: sx(t.value), x2: sx(t.value), y1: top, y2: top + height }));
        svg.appendChild(el('text', { class: 'tick', x: sx(t.value), y: top + height + 16, 'text-anchor': 'middle' }, t.label));
      }
    }

    svg.insertBefore(grid, svg.firstChild);
    svg.appendChild(el('rect', { class: 'plot-frame', x: left, y: top, width, height }));
    if (labels.x) svg.appendChild(el('text', { class: 'axis-label', x: left + width / 2, y: 296, 'text-anchor': 'middle' }, labels.x));
    if (labels.y) {
      svg.appendChild(el('text', { class: 'axis-label', x: 11, y: top + height / 2, 'text-anchor': 'middle', transform: 'rotate(-90 11 ' + (top + height / 2) + ')' }, labels.y));
    }

    return { sx, sy, left, top, width, height };
  }

  function message(svg, text) {
    svg.appendChild(el('text', { class: 'empty', x: 220, y: 150, 'text-anchor': 'middle' }, text));
  }

  // ---- reliability diagram ----
  function drawReliability(data) {
    const svg = $('reliability-chart');
    clear(svg);
    const bins = data.bins.filter((b) => b.meanPrediction !== null && b.observedRate !== null);
    svg.dataset.bins = String(bins.length);
    svg.dataset.examples = String(data.examples);
    $('reliability-subtitle').textContent = data.examples > 0
      ? 'last ' + fmtInt(data.examples) + ' predictions, ' + bins.length + ' bins of equal weight'
      : 'no predictions since the server started';
    if (bins.length === 0) {
      message(svg, data.windowCapacity === 0 ? 'calibration is off: no window of predictions is kept' : 'waiting for examples…');
      return;
    }

    let top = 0;
    for (const b of bins) top = Math.max(top, b.meanPrediction, b.observedRate + 2 * stdErr(b));
    const max = niceMax(Math.min(1, top * 1.05));
    const axisTicks = ticks(0, max, 5);
    const f = frame(svg, { left: 52, top: 12, right: 16, bottom: 40 },
      { min: 0, max, ticks: axisTicks.values.map((v) => ({ value: v, label: fmtTick(v, axisTicks.step) })) },
      { min: 0, max },
      { x: 'mean prediction in bin', y: 'observed click rate' });
    svg.appendChild(el('line', { class: 'diagonal', x1: f.sx(0), y1: f.sy(0), x2: f.sx(max), y2: f.sy(max) }));

    const totalWeight = bins.reduce((s, b) => s + b.weight, 0);
    const path = bins.map((b, i) => (i === 0 ? 'M' : 'L') + f.sx(b.meanPrediction).toFixed(1) + ',' + f.sy(b.observedRate).toFixed(1)).join(' ');
    svg.appendChild(el('path', { class: 'reliability-line', d: path }));
    bins.forEach((b, i) => {
      const se = stdErr(b);
      const x = f.sx(b.meanPrediction);
      svg.appendChild(el('line', { class: 'whisker', x1: x, x2: x, y1: f.sy(Math.max(0, b.observedRate - 2 * se)), y2: f.sy(Math.min(max, b.observedRate + 2 * se)) }));
      const r = 3 + 6 * Math.sqrt(b.weight / totalWeight);
      const dot = el('circle', {
        class: 'bin',
        cx: x.toFixed(1),
        cy: f.sy(b.observedRate).toFixed(1),
        r: r.toFixed(1),
        'data-index': String(i),
        'data-mean-prediction': String(b.meanPrediction),
        'data-observed-rate': String(b.observedRate),
        'data-examples': String(b.examples),
      });
      dot.appendChild(el('title', {}, 'predictions ' + b.lower.toFixed(4) + '–' + b.upper.toFixed(4) + ': mean ' + b.meanPrediction.toFixed(4)
        + ', observed ' + b.observedRate.toFixed(4) + ', ' + fmtInt(b.examples) + ' examples'));
      svg.appendChild(dot);
    });
  }

  // Standard error of a bin's observed rate (binomial, from its example count).
  function stdErr(b) {
    return b.examples > 0 ? Math.sqrt(Math.max(0, b.observedRate * (1 - b.observedRate)) / b.examples) : 0;
  }

  // ---- time series ----
  const MIN_CUMULATIVE = 1000; // examples since start before a cumulative point sets the y range
  const MIN_INTERVAL = 200; // examples in an interval before its point does

  // Ticks at round clock times (every 5 s ... 6 h), about four of them.
  function timeTicks(t0, t1) {
    const steps = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600].map((s) => s * 1000);
    const step = steps.find((s) => (t1 - t0) / s <= 5) || steps[steps.length - 1];
    const result = [];
    for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
      const label = fmtClock(new Date(t).toISOString());
      result.push({ value: t, label: step >= 60000 ? label.slice(0, 5) : label });
    }

    return result;
  }

  function drawSeries(svgId, samples, cumulativeKey, intervalKey, options) {
    const svg = $(svgId);
    clear(svg);
    const points = (key) => samples.filter((s) => s[key] !== null && s[key] !== undefined).map((s) => ({ t: Date.parse(s.time), v: s[key], s }));
    const cumulative = points(cumulativeKey);
    const interval = points(intervalKey);
    svg.dataset.points = String(cumulative.length);
    svg.dataset.intervalPoints = String(interval.length);
    if (cumulative.length === 0 && interval.length === 0) {
      message(svg, 'waiting for the first samples…');
      return;
    }

    // The y range comes from settled points: the first samples after a start rest on a handful of examples
    // and would squash the rest of the chart. Points outside the range are pinned to its edge, drawn hollow.
    const settled = cumulative.filter((p) => p.s.examples >= MIN_CUMULATIVE).concat(interval.filter((p) => p.s.intervalExamples >= MIN_INTERVAL));
    const ranged = settled.length > 0 ? settled : cumulative.concat(interval);
    let lo = Math.min(...ranged.map((p) => p.v));
    let hi = Math.max(...ranged.map((p) => p.v));
    if (options.reference !== undefined) {
      lo = Math.min(lo, options.reference);
      hi = Math.max(hi, options.reference);
    }

    const pad = (hi - lo) * 0.08 || Math.abs(hi) * 0.05 || 0.01;
    const y = { min: Math.max(0, lo - pad), max: hi + pad };
    const times = samples.map((s) => Date.parse(s.time));
    const t0 = Math.min(...times);
    const span = Math.max(Math.max(...times) - t0, 1000);
    const f = frame(svg, { left: 66, top: 12, right: 16, bottom: 40 }, { min: t0, max: t0 + span, ticks: timeTicks(t0, t0 + span) }, y, { x: 'time', y: options.label });
    const clampY = (v) => f.sy(Math.min(y.max, Math.max(y.min, v)));
    if (options.reference !== undefined) {
      svg.appendChild(el('line', { class: 'reference', x1: f.left, x2: f.left + f.width, y1: f.sy(options.reference), y2: f.sy(options.reference) }));
    }

    for (const [series, name] of [[interval, 'interval'], [cumulative, 'cumulative']]) {
      if (series.length > 1) {
        svg.appendChild(el('path', { class: 'series series-' + name, d: series.map((p, i) => (i === 0 ? 'M' : 'L') + f.sx(p.t).toFixed(1) + ',' + clampY(p.v).toFixed(1)).join(' ') }));
      }

      const g = el('g', { class: 'points points-' + name });
      for (const p of series) {
        const off = p.v < y.min || p.v > y.max;
        const dot = el('circle', {
          class: 'point point-' + name + (off ? ' off-scale' : ''),
          cx: f.sx(p.t).toFixed(1),
          cy: clampY(p.v).toFixed(1),
          r: name === 'cumulative' ? 2.5 : 2,
          'data-version': String(p.s.version),
          'data-value': String(p.v),
        });
        dot.appendChild(el('title', {}, fmtClock(p.s.time) + ' ' + (name === 'cumulative' ? 'since start' : 'interval') + ': ' + p.v.toFixed(4)
          + ' (version ' + fmtInt(p.s.version) + ')'));
        g.appendChild(dot);
      }

      svg.appendChild(g);
    }
  }

  function drawSparkline(samples) {
    const svg = $('rate-chart');
    clear(svg);
    const values = samples.filter((s) => s.examplesPerSecond !== null);
    svg.dataset.points = String(values.length);
    if (values.length < 2) return;
    const max = Math.max(...values.map((s) => s.examplesPerSecond)) || 1;
    const w = 160 / values.length;
    values.forEach((s, i) => {
      const h = Math.max(1, 26 * s.examplesPerSecond / max);
      const bar = el('rect', { class: 'spark-bar', x: (i * w).toFixed(2), y: (28 - h).toFixed(2), width: Math.max(0.5, w - 0.6).toFixed(2), height: h.toFixed(2), 'data-value': String(s.examplesPerSecond) });
      bar.appendChild(el('title', {}, fmtClock(s.time) + ': ' + fmtRate(s.examplesPerSecond) + ' examples/s'));
      svg.appendChild(bar);
    });
  }

  // ---- campaigns ----
  function calibrationClass(ratio) {
    if (ratio === null) return 'cal-none';
    if (ratio >= 0.9 && ratio <= 1.1) return 'cal-good';
    if (ratio >= 0.75 && ratio <= 1.33) return 'cal-warn';
    return 'cal-bad';
  }

  function drawCampaigns(page, now) {
    const body = document.querySelector('#campaigns tbody');
    clear(body);
    $('campaigns-subtitle').textContent = 'top ' + page.campaigns.length + ' of ' + fmtInt(page.total) + ' by examples learned';
    if (page.campaigns.length === 0) {
      const row = html('tr');
      const cell = html('td', 'empty', 'no campaign has learned an example yet');
      cell.colSpan = 10;
      row.appendChild(cell);
      body.appendChild(row);
      return;
    }

    const most = page.campaigns[0].examples || 1;
    for (const c of page.campaigns) {
      const row = html('tr');
      row.dataset.campaignId = c.campaignId;
      row.dataset.examples = String(c.examples);
      row.dataset.clicks = String(c.clicks);
      row.dataset.calibrationRatio = c.calibrationRatio === null ? '' : String(c.calibrationRatio);
      const ctr = c.examples > 0 ? c.clicks / c.examples : null;
      row.appendChild(html('td', 'id', c.campaignId));
      row.appendChild(html('td', 'num examples', fmtInt(c.examples)));
      const barCell = html('td', 'bar-col');
      const bar = el('svg', { class: 'share', viewBox: '0 0 100 10', preserveAspectRatio: 'none' });
      bar.appendChild(el('rect', { class: 'share-bar', x: 0, y: 1, width: (100 * c.examples / most).toFixed(1), height: 8 }));
      barCell.appendChild(bar);
      row.appendChild(barCell);
      row.appendChild(html('td', 'num clicks', fmtInt(c.clicks)));
      row.appendChild(html('td', 'num', fmtPercent(ctr, 2)));
      row.appendChild(html('td', 'num', fmtFixed(c.logLoss, 4)));
      row.appendChild(html('td', 'num', fmtFixed(c.normalizedEntropy, 3)));
      const cal = html('td', 'num');
      cal.appendChild(html('span', 'badge ' + calibrationClass(c.calibrationRatio), fmtFixed(c.calibrationRatio, 3)));
      row.appendChild(cal);
      row.appendChild(html('td', 'num', fmtInt(c.coefficients)));
      row.appendChild(html('td', 'num muted', fmtAge(c.lastUpdate, now)));
      body.appendChild(row);
    }
  }

  // ---- joiner ----
  function drawJoiner(j) {
    const box = $('joiner');
    clear(box);
    $('joiner-subtitle').textContent = j.enabled
      ? 'policy ' + j.policy + ', window ' + fmtWindow(j.attributionWindowSeconds)
      : 'disabled';
    const pending = html('div', 'pending');
    const label = html('p', 'pending-label');
    const count = html('span', 'pending-value', fmtInt(j.pending));
    count.id = 'joiner-pending';
    count.dataset.value = String(j.pending);
    label.appendChild(count);
    label.appendChild(document.createTextNode(' pending of ' + fmtInt(j.maxPending)));
    pending.appendChild(label);
    const meter = el('svg', { class: 'meter', viewBox: '0 0 100 6', preserveAspectRatio: 'none' });
    meter.appendChild(el('rect', { class: 'meter-track', x: 0, y: 0, width: 100, height: 6 }));
    meter.appendChild(el('rect', { class: 'meter-fill', x: 0, y: 0, width: Math.min(100, 100 * j.pending / Math.max(1, j.maxPending)).toFixed(2), height: 6 }));
    pending.appendChild(meter);
    box.appendChild(pending);

    const joined = [
      ['Predictions served', j.served, 'joiner-served'],
      ['Learned positives', j.positives, 'joiner-positives'],
      ['Learned negatives', j.negatives, 'joiner-negatives'],
      ['Negatives sampled away', j.negativesDownsampled],
      ['Expired in window', j.expiredInWindow],
      ['Expired early (memory)', j.expiredEarly, null, true],
      ['Expired unimpressed', j.expiredWithoutImpression],
    ];
    const events = [
      ['Accepted', j.events.accepted, 'joiner-accepted'],
      ['Duplicates', j.events.duplicate],
      ['Click, no impression', j.events.clickWithoutImpression, null, true],
      ['Click after window', j.events.clickAfterWindow, null, true],
      ['Impression too late', j.events.impressionAfterWindow, null, true],
      ['Unknown impression', j.events.unknownImpression, null, true],
      ['Invalid lines', j.events.invalid, null, true],
    ];
    const columns = html('div', 'joiner-columns');
    columns.appendChild(kvTable('Predictions', joined));
    columns.appendChild(kvTable('Events', events));
    box.appendChild(columns);
    const clicksSeen = j.positives + j.events.clickWithoutImpression + j.events.clickAfterWindow;
    const unmatched = j.events.clickWithoutImpression + j.events.clickAfterWindow;
    box.appendChild(html('p', 'note', clicksSeen > 0
      ? fmtPercent(unmatched / clicksSeen, 1) + ' of clicks unmatched (no impression, or after the window)'
      : 'no clicks joined yet'));
  }

  // A titled two-column table of [name, value, id?, isProblem?] rows; problems with a count above 0 stand out.
  function kvTable(title, rows) {
    const table = html('table', 'kv');
    const caption = html('caption', '', title);
    table.appendChild(caption);
    for (const [name, value, id, problem] of rows) {
      const row = html('tr');
      if (problem && value > 0) row.className = 'attention';
      row.appendChild(html('th', '', name));
      const cell = html('td', 'num', fmtInt(value));
      if (id) {
        cell.id = id;
        cell.dataset.value = String(value);
      }

      row.appendChild(cell);
      table.appendChild(row);
    }

    return table;
  }

  function fmtWindow(seconds) {
    if (seconds >= 3600 && seconds % 3600 === 0) return seconds / 3600 + ' h';
    if (seconds >= 60 && seconds % 60 === 0) return seconds / 60 + ' min';
    return seconds + ' s';
  }

  // ---- the page ----
  function drawModel(model, history, reliability) {
    setValue('model-version', model.version, fmtInt(model.version));
    const last = history.samples.length > 0 ? history.samples[history.samples.length - 1] : null;
    const rate = last ? last.examplesPerSecond : null;
    setValue('examples-per-second', rate, fmtRate(rate));
    const q = model.progressive;
    setValue('log-loss', q.logLoss, fmtFixed(q.logLoss, 4));
    setValue('normalized-entropy', q.normalizedEntropy, fmtFixed(q.normalizedEntropy, 4));
    setValue('calibration-ratio', q.calibrationRatio, fmtFixed(q.calibrationRatio, 3));
    $('calibration-ratio').className = 'value ' + calibrationClass(q.calibrationRatio);
    setValue('auc', reliability.auc, fmtFixed(reliability.auc, 4));
    $('auc-note').textContent = 'last ' + fmtInt(reliability.examples) + ' predictions';
    setValue('campaign-count', model.campaigns.count, fmtInt(model.campaigns.count));
    $('campaign-note').textContent = fmtBytes(model.campaigns.bytes) + ' of models';
    setValue('calibrator', model.calibration.calibrator, model.calibration.calibrator.replace(/Calibrator$/, ''));
    $('calibrator-note').textContent = fmtInt(model.calibration.fits) + ' fits';
    $('spec').textContent = 'spec ' + model.spec.name + ', 2^' + model.spec.bits + ' global slots, ' + model.spec.fields + ' fields, ' + model.spec.crosses + ' crosses';
  }

  async function getJson(path) {
    const response = await fetch(path, { headers: { accept: 'application/json' }, cache: 'no-store' });
    if (!response.ok) throw new Error(path + ': HTTP ' + response.status);
    return response.json();
  }

  let refreshes = 0;

  async function refresh() {
    const status = $('status');
    try {
      const [model, reliability, history, campaigns, joiner] = await Promise.all([
        getJson('/v1/models'),
        getJson('/v1/models/reliability'),
        getJson('/v1/models/history'),
        getJson('/v1/campaigns?sort=examples&limit=' + CAMPAIGNS),
        getJson('/v1/joiner'),
      ]);
      // Ages are measured on the server's clock (the time the reliability table was computed), not the browser's.
      const now = Date.parse(reliability.computedAt) || Date.now();
      drawModel(model, history, reliability);
      drawReliability(reliability);
      drawSeries('logloss-chart', history.samples, 'logLoss', 'intervalLogLoss', { label: 'log loss' });
      drawSeries('ne-chart', history.samples, 'normalizedEntropy', 'intervalNormalizedEntropy', { label: 'NE', reference: 1 });
      drawSparkline(history.samples);
      drawCampaigns(campaigns, now);
      drawJoiner(joiner);
      refreshes++;
      document.documentElement.dataset.refreshes = String(refreshes);
      status.dataset.state = 'live';
      status.textContent = 'live · updated ' + fmtClock(new Date().toISOString());
    } catch (error) {
      status.dataset.state = 'error';
      status.textContent = 'cannot read the API: ' + error.message;
    } finally {
      setTimeout(refresh, REFRESH_MS);
    }
  }

  refresh();
})();
