import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import Koa from 'koa';
import { requestState } from '../src/http/request-state.js';
import { memoryLogger } from '../src/log.js';
import { type AccessDenyOptions, accessDeny } from '../src/middleware/access.js';
import { lighttpdErrors } from '../src/middleware/errors.js';
import { stripInternalHeaders } from '../src/middleware/response-filter.js';
import { staticFiles } from '../src/middleware/static.js';
import { type ComparedRequest, compareWithLighttpd } from './helpers/lighttpd.js';

/**
 * accessDeny() in its Koa form against lighttpd 1.4.69 running the equivalent lighttpd.conf
 * (spec 5.1 and 5.2): same status and body for every request.
 */
function app(root: string, rules: AccessDenyOptions[], disablePathInfo = false): Koa {
  const koa = new Koa();
  koa.use(lighttpdErrors({ log: memoryLogger() }));
  koa.use(stripInternalHeaders());
  for (const rule of rules) koa.use(accessDeny(rule));
  koa.use(
    staticFiles({ documentRoot: root, indexFiles: ['index.html'], disablePathInfo, log: memoryLogger() }),
  );
  return koa;
}

const base = (root: string) => `
server.document-root = "${root}"
server.modules = ("mod_access")
index-file.names = ("index.html")
mimetype.assign = (".html" => "text/html", ".txt" => "text/plain;charset=utf-8", ".jpg" => "image/jpeg", ".png" => "image/png")
`;

const get = (...paths: string[]): ComparedRequest[] => paths.map((path) => ({ path }));

compareWithLighttpd('url.access-deny', {
  // An upper-case twin, so that case-sensitivity shows as 200 rather than a 404.
  prepare: (root) => copyFileSync(join(root, 'config.inc'), join(root, 'CONFIG.INC')),
  lighttpdConf: (root) => `${base(root)}url.access-deny = (".inc", "index.html")\n`,
  koaApp: (root) => app(root, [{ deny: ['.inc', 'index.html'] }]),
  requests: [
    ...get('/config.inc', '/config.inc/', '/config.inc/x', '/config%2einc', '/config.inc?x=1'),
    ...get('/sub/../config.inc', '/CONFIG.INC', '/x.inc', '/missing/x.inc', '/sub/', '/', '/sub/index.html'),
    ...get('/index.html/x', '/sub/page.txt', '/pic.jpg', '/noindex/', '/sub'),
    { path: '/config.inc', method: 'PUT', body: '' },
    { path: '/config.inc', method: 'OPTIONS' },
    { path: '/x.inc', method: 'DELETE' },
    { path: '/config.inc', method: 'POST', body: 'a=b' },
    { path: '/config.inc', method: 'HEAD' },
  ],
});

compareWithLighttpd('url.access-allow (the deny list is then ignored)', {
  lighttpdConf: (root) => `${base(root)}url.access-allow = (".html", ".jpg")\nurl.access-deny = (".jpg")\n`,
  koaApp: (root) => app(root, [{ allow: ['.html', '.jpg'], deny: ['.jpg'] }]),
  requests: get(
    '/',
    '/index.html',
    '/sub/',
    '/sub/index.html',
    '/range.txt',
    '/pic.jpg',
    '/pic.jpg/x',
    '/config.inc',
  ),
});

compareWithLighttpd('url.access-deny ("") denies everything', {
  lighttpdConf: (root) => `${base(root)}url.access-deny = ("")\n`,
  koaApp: (root) => app(root, [{ deny: [''] }]),
  requests: get('/', '/pic.jpg', '/missing', '/sub'),
});

/** The lighttpd wiki's hotlink rule (spec 5.2), in its Koa form. */
const offSite = (ctx: Koa.Context) => !/^($|http:\/\/www\.example\.org)/.test(ctx.get('Referer'));

const REFERERS: Array<Record<string, string>> = [
  {},
  { Referer: '' },
  { Referer: 'http://www.example.org/page' },
  { Referer: 'http://www.example.org.evil.com/' },
  { Referer: 'https://www.example.org/' },
  { Referer: 'http://evil.example/' },
  // Invalid UTF-8: PCRE2 (UTF mode) fails to match, so `!~` holds and the rule applies.
  { Referer: '\xff' },
  // Not compared: `http://www.example.org/\xff`. lighttpd denies it (the match error again);
  // a JavaScript predicate sees the header as latin1 and its prefix test passes. The
  // lighttpd.conf front end matches like PCRE2; a Koa user who cares decodes the header first.
];
const hotlinkRequests = (paths: string[]): ComparedRequest[] =>
  paths.flatMap((path) => REFERERS.map((headers) => ({ path, headers })));

compareWithLighttpd('hotlink rule of the wiki (referer, suffix list)', {
  lighttpdConf: (root) => `${base(root)}
$HTTP["referer"] !~ "^($|http://www\\.example\\.org)" {
  url.access-deny = (".jpg", ".jpeg", ".png")
}
`,
  koaApp: (root) => app(root, [{ deny: ['.jpg', '.jpeg', '.png'], when: offSite }]),
  requests: hotlinkRequests(['/pic.jpg', '/pic.jpg/', '/pic.jpg/x', '/images/logo.png', '/index.html']),
});

/** The other way people write it: a url regex around `("")`, which path-info slips past. */
const jpgUrl = (ctx: Koa.Context) => /\.jpg$/.test(requestState(ctx).path);
const urlRegexConf = (root: string) => `${base(root)}
$HTTP["referer"] !~ "^($|http://www\\.example\\.org)" {
  $HTTP["url"] =~ "\\.jpg$" {
    url.access-deny = ("")
  }
}
`;
const urlRegexRule: AccessDenyOptions = { deny: [''], when: (ctx) => offSite(ctx) && jpgUrl(ctx) };

compareWithLighttpd('hotlink rule written as a url regex: path-info gets past it', {
  lighttpdConf: urlRegexConf,
  koaApp: (root) => app(root, [urlRegexRule]),
  requests: hotlinkRequests(['/pic.jpg', '/pic.jpg/', '/pic.jpg/x']),
});

compareWithLighttpd('hotlink rule written as a url regex, with static-file.disable-pathinfo', {
  lighttpdConf: (root) => `${urlRegexConf(root)}static-file.disable-pathinfo = "enable"\n`,
  koaApp: (root) => app(root, [urlRegexRule], true),
  requests: hotlinkRequests(['/pic.jpg', '/pic.jpg/', '/pic.jpg/x']),
});
