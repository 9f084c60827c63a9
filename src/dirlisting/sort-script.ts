/**
 * The script a listing page carries (unless dir-listing.external-js names another): clicking
 * a column heading sorts the rows by it, clicking again reverses; `?C=N|M|S|T|D&O=A|D` picks
 * the first sort, as on lighttpd. Directories stay before files when sorting by name or type,
 * and the `../` row stays first. The server sends the rows already sorted by name, so the page
 * reads the same without scripts.
 *
 * It is koa-lighty's own script, not lighttpd's (whose page it otherwise reproduces byte for
 * byte); `O=A` means ascending here, as lighttpd 1.4.78 and later read it (1.4.69 swapped them).
 */
const SCRIPT = `(function () {
 var table = document.querySelector('div.list table');
 if (!table || !table.tBodies.length) return;
 var body = table.tBodies[0];
 var heads = table.tHead ? table.tHead.rows[0].cells : [];
 var units = 'KMGTPE';
 var months = 'JanFebMarAprMayJunJulAugSepOctNovDec';
 var column = -1, ascending = true;
 function cell(row, i) { return row.cells[i] ? row.cells[i].textContent : ''; }
 function isUp(row) { var a = row.cells[0] && row.cells[0].querySelector('a'); return !!a && a.getAttribute('href') === '../'; }
 function isDir(row) { return cell(row, 3) === 'Directory'; }
 function value(row, i) {
  var text = cell(row, i), m;
  if (i === 1) {
   m = /^(-?\\d+)-(\\w{3})-(\\d\\d) (\\d\\d):(\\d\\d):(\\d\\d)$/.exec(text);
   return m ? Date.UTC(+m[1], months.indexOf(m[2]) / 3, +m[3], +m[4], +m[5], +m[6]) : -Infinity;
  }
  if (i === 2) {
   m = /^(\\d+(?:\\.\\d)?)([KMGTPE])$/.exec(text);
   return m ? parseFloat(m[1]) * Math.pow(1024, units.indexOf(m[2]) + 1) : -1;
  }
  return text;
 }
 function compare(a, b, i) {
  if ((i === 0 || i === 3) && isDir(a) !== isDir(b)) return isDir(a) ? -1 : 1;
  var x = value(a, i), y = value(b, i);
  if (typeof x === 'number') { if (x !== y) return x < y ? -1 : 1; }
  else {
   var c = x.toUpperCase().localeCompare(y.toUpperCase()) || x.localeCompare(y);
   if (c) return c;
  }
  return i === 0 ? 0 : compare(a, b, 0);
 }
 function sortBy(i, up) {
  var rows = [], first = [], r;
  for (r = 0; r < body.rows.length; r++) (isUp(body.rows[r]) ? first : rows).push(body.rows[r]);
  rows.sort(function (a, b) { return up ? compare(a, b, i) : compare(b, a, i); });
  rows = first.concat(rows);
  for (r = 0; r < rows.length; r++) body.appendChild(rows[r]);
  for (r = 0; r < heads.length; r++) {
   var arrow = heads[r].querySelector('span.sortarrow');
   if (arrow) arrow.innerHTML = r === i ? (up ? '&darr;' : '&uarr;') : '';
  }
  column = i; ascending = up;
 }
 for (var h = 0; h < heads.length; h++) (function (i) {
  var th = heads[i], link = document.createElement('a'), arrow = document.createElement('span');
  link.href = '#';
  link.className = 'sortheader';
  link.appendChild(document.createTextNode(th.textContent));
  arrow.className = 'sortarrow';
  link.appendChild(arrow);
  link.onclick = function () { sortBy(i, column === i ? !ascending : true); return false; };
  th.replaceChild(link, th.firstChild);
 })(h);
 var query = new URLSearchParams(location.search);
 var start = { N: 0, M: 1, S: 2, T: 3, D: 3 }[query.get('C')] || 0;
 sortBy(start, query.get('O') !== 'D');
})();
`;

/** The inline element that ends a listing page without external-js. */
export const SORT_SCRIPT = `\n<script type="text/javascript">\n${SCRIPT}</script>\n\n`;
