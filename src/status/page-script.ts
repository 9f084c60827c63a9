/**
 * The status page's script, served at `<status-url>?script` (same origin, so a CSP with
 * `script-src 'self'` lets it run, where an inline script would be blocked). Every few
 * seconds it fetches `?json` and redraws the figures of html.ts in place: no reload, no
 * framework. Text goes in through textContent only. With status.enable-sort, clicking a
 * heading of the connection table sorts it (numbers as numbers), clicking again reverses.
 */
export const PAGE_SCRIPT_INTERVAL_MS = 2000;

export function pageScript(sort: boolean): string {
  return `(function () {
  'use strict';
  var every = ${PAGE_SCRIPT_INTERVAL_MS};
  var url = location.pathname + '?json';
  function $(id) { return document.getElementById(id); }
  function set(id, text) { var el = $(id); if (el) el.textContent = text; }
  function scaled(v, step) {
    var units = ' kMGTPEZY', i = 0;
    while (v > step && i < units.length - 1) { v /= step; i++; }
    return (step === 1000 ? Math.floor(v) : v.toFixed(2)) + ' ' + units.charAt(i);
  }
  function stamp(ms) {
    var d = new Date(ms), p = function (n) { return (n < 10 ? '0' : '') + n; };
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' +
      p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
  }
  function uptime(s) {
    var out = [], d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    if (d) out.push(d + ' days'); if (h) out.push(h + ' hours'); if (m) out.push(m + ' min');
    out.push(s % 60 + ' s');
    return out.join(' ');
  }
  function table(id, headings, rows, empty) {
    var t = $(id); if (!t) return;
    while (t.rows.length) t.deleteRow(0);
    if (headings) {
      var hr = t.insertRow(-1);
      headings.forEach(function (h) { var th = document.createElement('th'); th.className = 'status'; th.textContent = h; hr.appendChild(th); });
    }
    if (!rows.length) rows = [[empty]];
    rows.forEach(function (cells) {
      var r = t.insertRow(-1);
      cells.forEach(function (c) {
        var td = r.insertCell(-1);
        var text = c && typeof c === 'object' ? c.text : c;
        td.className = c && typeof c === 'object' ? c.cls : (typeof c === 'number' ? 'int' : 'string');
        td.textContent = String(text);
      });
    });
  }
  function ms(v) { return v === null ? '-' : '\\u2264 ' + v + ' ms'; }
  function draw(all) {
    var s = all.KoaLighty;
    set('kl-uptime', uptime(s.uptime));
    set('kl-requests', scaled(s.requests.total, 1000) + 'req');
    set('kl-traffic', scaled(s.requests.bytesOut, 1024) + 'byte');
    set('kl-rate', scaled(s.requests.perSecond5s, 1000) + 'req/s');
    set('kl-traffic-rate', scaled(s.requests.bytesPerSecond5s, 1024) + 'byte/s');
    set('kl-connections', s.connections.open + ' connections');
    set('kl-scoreboard', s.connections.scoreboard.replace(/(.{50})/g, '$1\\n'));
    table('kl-summary', null, [
      ['Requests/s (5 s)', String(s.requests.perSecond5s)],
      ['Latency p50', ms(s.latencyMs.p50)], ['Latency p90', ms(s.latencyMs.p90)], ['Latency p99', ms(s.latencyMs.p99)]
    ], '');
    var fcgi = [];
    s.fastcgi.forEach(function (k) { k.hosts.forEach(function (h) { h.processes.forEach(function (p) {
      var sp = p.spawned;
      fcgi.push([k.key, h.label, p.index + ' (' + p.address + ')', p.connections, p.busy, p.idle, p.queued, p.maxConns,
        p.disabledUntil === null ? '-' : stamp(p.disabledUntil),
        p.lastError ? stamp(p.lastError.at) + ' ' + p.lastError.message : '-',
        sp ? (sp.running ? 'pid ' + sp.pid + ', ' + sp.children + ' children' : 'not running') : 'not spawned here',
        sp ? sp.respawns : '-']);
    }); }); });
    table('kl-fastcgi', ['Key', 'Host', 'Process', 'Open', 'Busy', 'Idle', 'Queued', 'FCGI_MAX_CONNS', 'Disabled until', 'Last error', 'php-cgi', 'Respawns'], fcgi, 'no fastcgi.server');
    table('kl-stores', ['Store', 'State', 'Triggers', 'Allowed', 'Denied', 'Outages'], s.triggerStores.map(function (st) {
      var o = st.outages.map(function (x) { return stamp(x.from) + ' to ' + (x.to === null ? 'now' : stamp(x.to)) + ': ' + x.failures + ' failed (' + x.reason + ')'; }).join('; ');
      return [st.name, { text: st.up ? 'up' : 'down', cls: 'string ' + (st.up ? 'up' : 'down') }, st.triggers, st.allowed, st.denied, o || 'none'];
    }), 'no trigger-before-download');
    table('kl-secdownload', null, s.secdownload ? [['403 (wrong MAC)', s.secdownload.forbidden], ['410 (expired)', s.secdownload.gone], ['valid links', s.secdownload.valid]] : [], 'no secdownload');
    set('kl-updated', 'as of ' + stamp(s.now));
  }
  function tick() {
    fetch(url, { cache: 'no-store', credentials: 'same-origin' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(draw)
      .catch(function (e) { set('kl-updated', 'update failed: ' + e.message); })
      .then(function () { setTimeout(tick, every); });
  }
  setTimeout(tick, every);${sort ? SORT : ''}
})();
`;
}

const SORT = `
  var links = document.querySelectorAll('#kl-connection-table a.sortheader');
  Array.prototype.forEach.call(links, function (a) {
    a.addEventListener('click', function (event) {
      event.preventDefault();
      var table = document.getElementById('kl-connection-table');
      var column = a.parentNode.cellIndex;
      var rows = Array.prototype.slice.call(table.rows, 1);
      var down = a.getAttribute('data-dir') !== 'down';
      rows.sort(function (x, y) {
        var p = x.cells[column], q = y.cells[column];
        var c = p.className === 'int' ? parseInt(p.textContent, 10) - parseInt(q.textContent, 10)
          : p.textContent.toLowerCase().localeCompare(q.textContent.toLowerCase());
        return down ? c : -c;
      });
      Array.prototype.forEach.call(links, function (other) { other.lastChild.textContent = ':'; other.removeAttribute('data-dir'); });
      a.setAttribute('data-dir', down ? 'down' : 'up');
      a.lastChild.textContent = down ? '\\u2193' : '\\u2191';
      rows.forEach(function (r) { r.parentNode.appendChild(r); });
    });
  });`;
