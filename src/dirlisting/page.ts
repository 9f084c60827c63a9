/**
 * The HTML of a directory listing, laid out as lighttpd 1.4.69's mod_dirlisting writes it:
 * the same head, style, table and rows byte for byte (seen on it), so pages, stylesheets
 * written against lighttpd's classes (`tr.d`, `td.n`, `td.m`, `td.s`, `td.t`, `div.foot`) and
 * scrapers keep working. Only the inline sorting script is koa-lighty's own (sort-script.ts).
 */
import { encodeUriPart, escapeXml, formatMtime, formatSize } from './format.js';
import { SORT_SCRIPT } from './sort-script.js';

export interface ListedEntry {
  /** The name as the directory holds it (bytes: it need not be UTF-8). */
  name: Buffer;
  /** Whole seconds since the epoch. */
  mtime: number;
  size: number;
}

export interface PageParts {
  /** uri.path of the directory (decoded), shown in the title and heading. */
  uriPath: string;
  /** Sorted; each links to `name/`. */
  dirs: readonly ListedEntry[];
  /** Sorted; each shows its size and type. */
  files: readonly ListedEntry[];
  /** The Content-Type shown for a file (from mimetype.assign; application/octet-stream without one). */
  typeOf(name: Buffer): string;
  /** dir-listing.auto-layout: the document around the table (head, style, footer, script). */
  autoLayout: boolean;
  encoding?: string;
  externalCss?: string;
  externalJs?: string;
  /** The line under the table (set-footer, else server.tag); none when empty. */
  footer?: string;
  /** What show-header and show-readme include, ready to insert (includes.ts). */
  header?: Buffer;
  readme?: Buffer;
}

const STYLE =
  '<style type="text/css">\n' +
  'a, a:active {text-decoration: none; color: blue;}\n' +
  'a:visited {color: #48468F;}\n' +
  'a:hover, a:focus {text-decoration: underline; color: red;}\n' +
  'body {background-color: #F5F5F5;}\n' +
  'h2 {margin-bottom: 12px;}\n' +
  'table {margin-left: 12px;}\n' +
  'th, td { font: 90% monospace; text-align: left;}\n' +
  'th { font-weight: bold; padding-right: 14px; padding-bottom: 3px;}\n' +
  'td {padding-right: 14px;}\n' +
  'td.s, th.s {text-align: right;}\n' +
  'div.list { background-color: white; border-top: 1px solid #646464;' +
  ' border-bottom: 1px solid #646464; padding-top: 10px; padding-bottom: 14px;}\n' +
  'div.foot { font: 90% monospace; color: #787878; padding-top: 4px;}\n' +
  '</style>\n';

const TABLE_HEAD =
  '</h2>\n<div class="list">\n' +
  '<table summary="Directory Listing" cellpadding="0" cellspacing="0">\n' +
  '<thead><tr><th class="n">Name</th><th class="m">Last Modified</th>' +
  '<th class="s">Size</th><th class="t">Type</th></tr></thead>\n' +
  '<tbody>\n';

const PARENT_ROW =
  '<tr class="d"><td class="n"><a href="../">..</a>/</td><td class="m">&nbsp;</td>' +
  '<td class="s">- &nbsp;</td><td class="t">Directory</td></tr>\n';

/** The whole page. Strings from the configuration (css, js, footer) go in as written, as lighttpd puts them. */
export function renderPage(page: PageParts): Buffer {
  const out: Buffer[] = [];
  const text = (s: string) => out.push(Buffer.from(s, 'utf8'));
  const path = escapeXml(Buffer.from(page.uriPath, 'utf8'));
  if (page.autoLayout) {
    text('<!DOCTYPE html>\n<html>\n<head>\n');
    if (page.encoding) text(`<meta charset="${page.encoding}">\n`);
    text('<title>Index of ');
    out.push(path);
    text('</title>\n');
    if (page.externalCss)
      text(
        '<meta name="viewport" content="initial-scale=1">' +
          `<link rel="stylesheet" type="text/css" href="${page.externalCss}">\n`,
      );
    else text(STYLE);
    text('</head>\n<body>\n');
  }
  if (page.header) out.push(page.header);
  text('<h2>Index of ');
  out.push(path);
  text(TABLE_HEAD);
  if (page.uriPath !== '/') text(PARENT_ROW);
  for (const dir of page.dirs) {
    text('<tr class="d"><td class="n"><a href="');
    out.push(encodeUriPart(dir.name));
    text('/">');
    out.push(escapeXml(dir.name));
    text(
      `</a>/</td><td class="m">${formatMtime(dir.mtime)}</td>` +
        '<td class="s">- &nbsp;</td><td class="t">Directory</td></tr>\n',
    );
  }
  for (const file of page.files) {
    text('<tr><td class="n"><a href="');
    out.push(encodeUriPart(file.name));
    text('">');
    out.push(escapeXml(file.name));
    text(
      `</a></td><td class="m">${formatMtime(file.mtime)}</td>` +
        `<td class="s">${formatSize(file.size)}</td><td class="t">${page.typeOf(file.name)}</td></tr>\n`,
    );
  }
  text('</tbody>\n</table>\n</div>\n');
  if (page.readme) out.push(page.readme);
  if (page.autoLayout) {
    if (page.footer) text(`<div class="foot">${page.footer}</div>\n`);
    if (page.externalJs) text(`<script type="text/javascript" src="${page.externalJs}"></script>\n`);
    else text(SORT_SCRIPT);
    text('</body>\n</html>\n');
  }
  return Buffer.concat(out);
}

/** text/html, with the charset of dir-listing.encoding when there is one. */
export function listingContentType(encoding: string | undefined): string {
  return encoding ? `text/html;charset=${encoding}` : 'text/html';
}
