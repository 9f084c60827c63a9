/**
 * Rule sets PHP applications ship for lighttpd, run by lighttpd 1.4.69 and by koa-lighty on the
 * same config, with a front controller in php-cgi that prints what it was given: pretty URLs
 * reach index.php with REQUEST_URI and QUERY_STRING exactly as under lighttpd, files and the
 * applications' other scripts are served as they are. The confs are written from the public
 * recipes: WordPress's permalink rule for lighttpd, RaspAP's config/50-raspap-router.conf (for
 * a web root of /), MediaWiki's short URLs, and the Laravel and Nextcloud sets of the README.
 * The README's Koa versions (rewrite() in front of fastcgi() and staticFiles()) are held to
 * the same answers.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import test from 'ava';
import Koa, { type Middleware } from 'koa';
import {
  accessDeny,
  fastcgi,
  lighttpdErrors,
  memoryLogger,
  redirect,
  requestState,
  rewrite,
  staticFiles,
} from '../src/index.js';
import { type RawResponse, rawExchange, type Served, serve } from './helpers/http.js';
import { type BothServers, seen, startBoth } from './helpers/same-conf.js';

const root = mkdtempSync(join(tmpdir(), 'koa-lighty-rewrite-apps-'));
const frontController = `<?php
header('Content-Type: text/plain');
echo 'script=', basename(__FILE__), "\\n";
foreach (['REQUEST_URI', 'QUERY_STRING', 'SCRIPT_NAME', 'PATH_INFO', 'PHP_SELF'] as $k)
  echo $k, '=', $_SERVER[$k] ?? '(unset)', "\\n";
echo 'GET=', json_encode($_GET), "\\n";
`;

/** A document root with PHP scripts (the front controller) and static files. */
function site(name: string, php: string[], files: string[]): string {
  const docroot = join(root, name);
  for (const path of [...php, ...files]) {
    mkdirSync(dirname(join(docroot, path)), { recursive: true });
    writeFileSync(join(docroot, path), php.includes(path) ? frontController : `static ${path}\n`);
  }
  return docroot;
}

const common = (sockdir: string) => `
server.modules = ("mod_rewrite", "mod_access", "mod_redirect", "mod_fastcgi")
index-file.names = ("index.php", "index.html")
mimetype.assign = (".css" => "text/css", ".png" => "image/png", ".txt" => "text/plain")
fastcgi.server = (".php" => ((
  "bin-path" => "/usr/bin/php-cgi",
  "socket" => "${sockdir}/php.socket",
  "max-procs" => 1,
  "bin-environment" => ("PHP_FCGI_CHILDREN" => "1"),
)))
`;

interface App {
  name: string;
  conf: (sockdir: string) => string;
  paths: string[];
  /** The README's Koa version: the stages in front of fastcgi() and staticFiles(). */
  koa?: (documentRoot: string) => Middleware[];
  documentRoot?: string;
}

const nextcloudPrivate = /^\/(?:build|tests|config|lib|3rdparty|templates|data)(?:$|\/)/;

const wordpress = site(
  'wordpress',
  ['index.php', 'wp-login.php', 'wp-admin/index.php'],
  ['wp-content/uploads/pic.png', 'wp-includes/css/style.css'],
);
const raspap = site(
  'raspap',
  ['index.php', 'ajax/networking/get_all.php'],
  ['dist/css/app.css', 'app/img/logo.png', 'config/config.txt'],
);
const mediawiki = site('mediawiki', ['w/index.php', 'w/load.php'], ['w/skins/main.css']);
const laravel = site('laravel/public', ['index.php'], ['css/app.css', 'robots.txt']);
const nextcloud = site(
  'nextcloud',
  ['index.php', 'remote.php', 'public.php', 'status.php', 'ocs/v1.php'],
  ['core/css/server.css', 'data/secret.txt', 'config/config.txt'],
);

const APPS: App[] = [
  {
    // The .htaccess WordPress writes (RewriteCond !-f, !-d, RewriteRule . /index.php), as
    // lighttpd users write it; its admin and asset directories are left alone.
    name: 'WordPress',
    conf: (sockdir) => `${common(sockdir)}
server.document-root = "${wordpress}"
url.rewrite-if-not-file = (
  "^/(wp-admin|wp-includes|wp-content)/(.*)" => "$0",
  "^/(.*)$" => "/index.php/$1"
)
`,
    paths: [
      '/2024/05/hello-world/',
      '/2024/05/hello-world/?replytocom=3',
      '/category/caf%C3%A9/page/2/',
      '/?p=123',
      '/wp-login.php?action=lostpassword',
      '/wp-admin/',
      '/wp-admin/options.php',
      '/wp-content/uploads/pic.png',
      '/wp-includes/css/style.css',
      '/feed',
    ],
    documentRoot: wordpress,
    koa: (documentRoot) => [
      rewrite({
        documentRoot,
        ifNotFile: [
          ['^/(wp-admin|wp-includes|wp-content)/(.*)', '$0'],
          ['^/(.*)$', '/index.php/$1'],
        ],
      }),
    ],
  },
  {
    name: 'RaspAP',
    conf: (sockdir) => `${common(sockdir)}
server.document-root = "${raspap}"
$HTTP["url"] =~ "^/(?!(dist|app|ajax|config)).*" {
    url.rewrite-once = ( "^/(.*?)(\\?.+)?$"=>"/index.php/$1$2" )
    server.error-handler-404 = "/index.php"
}
`,
    paths: [
      '/',
      '/wlan0_info',
      '/hostapd_conf?tab=advanced',
      '/network_conf?iface=wlan0&x=%2F',
      '/dist/css/app.css',
      '/app/img/logo.png',
      '/ajax/networking/get_all.php?iface=eth0',
      '/config/config.txt',
    ],
  },
  {
    name: 'MediaWiki',
    conf: (sockdir) => `${common(sockdir)}
server.document-root = "${mediawiki}"
url.rewrite-once = ( "^/wiki/(.*)$" => "/w/index.php?title=$1" )
`,
    paths: [
      '/wiki/Main_Page',
      '/wiki/Caf%C3%A9',
      '/wiki/A%26B',
      '/wiki/Talk:Main_Page?action=edit',
      '/wiki/',
      '/w/index.php?title=Special:Search&search=x',
      '/w/load.php?modules=site',
      '/w/skins/main.css',
    ],
  },
  {
    name: 'Laravel',
    conf: (sockdir) => `${common(sockdir)}
server.document-root = "${laravel}"
url.rewrite-if-not-file = ( "" => "/index.php\${url.path}\${qsa}" )
`,
    paths: [
      '/',
      '/users/42?tab=posts',
      '/some/pretty/path?x=1',
      '/css/app.css',
      '/robots.txt',
      '/a%20b/%C3%A4?q=%41',
    ],
  },
  {
    name: 'Nextcloud',
    conf: (sockdir) => `${common(sockdir)}
server.document-root = "${nextcloud}"
$HTTP["url"] =~ "^/(?:build|tests|config|lib|3rdparty|templates|data)(?:$|/)" {
  url.access-deny = ( "" )
}
url.redirect = ( "^/\\.well-known/(?:carddav|caldav)" => "/remote.php/dav/" )
url.rewrite-if-not-file = (
  "^/(?:remote|public|status|ocs/v[12])\\.php" => "",
  "^/(.*)$" => "/index.php/$1"
)
`,
    paths: [
      '/',
      '/apps/files/?dir=/Photos',
      '/login?redirect_url=/apps/files',
      '/remote.php/dav/files/alice/a%20b.txt',
      '/public.php/webdav/',
      '/ocs/v1.php/cloud/capabilities?format=json',
      '/status.php',
      '/.well-known/caldav',
      '/core/css/server.css',
      '/data/secret.txt',
      '/config/config.txt',
    ],
    documentRoot: nextcloud,
    koa: (documentRoot) => [
      accessDeny({ deny: [''], when: (ctx) => nextcloudPrivate.test(requestState(ctx).path) }),
      redirect({ rules: [{ match: '^/\\.well-known/(?:carddav|caldav)', location: '/remote.php/dav/' }] }),
      rewrite({
        documentRoot,
        ifNotFile: [
          ['^/(?:remote|public|status|ocs/v[12])\\.php', ''],
          ['^/(.*)$', '/index.php/$1'],
        ],
      }),
    ],
  },
];

const running = new Map<string, BothServers>();
const koaApps = new Map<string, Served>();
const closing: Array<() => Promise<void>> = [];

/** The README's Koa app for a rule set: its stages, then PHP and the files. */
async function koaApp(app: App): Promise<void> {
  const documentRoot = app.documentRoot!;
  const log = memoryLogger();
  const php = fastcgi({
    documentRoot,
    indexFiles: ['index.php', 'index.html'],
    log,
    backends: [
      { key: '.php', hosts: [{ binPath: '/usr/bin/php-cgi', socket: join(root, `${app.name}.sock`) }] },
    ],
  });
  closing.push(() => php.close());
  await php.ready();
  const koa = new Koa();
  koa.silent = true;
  koa.use(lighttpdErrors({ log }));
  for (const stage of app.koa!(documentRoot)) koa.use(stage);
  koa.use(php);
  koa.use(
    staticFiles({
      documentRoot,
      indexFiles: ['index.php', 'index.html'],
      mimeTypes: [
        ['.css', 'text/css'],
        ['.png', 'image/png'],
        ['.txt', 'text/plain'],
      ],
    }),
  );
  const served = await serve(koa);
  closing.push(() => served.close());
  koaApps.set(app.name, served);
}

test.before(async () => {
  const started = await Promise.allSettled([
    ...APPS.map(async (app) => running.set(app.name, await startBoth(app.conf))),
    ...APPS.filter((app) => app.koa).map(koaApp),
  ]);
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
});
test.after.always(async () => {
  await Promise.allSettled([...running.values()].map((servers) => servers.close()));
  await Promise.allSettled(closing.map((close) => close()));
  rmSync(root, { recursive: true, force: true });
});

function get(port: number, path: string): Promise<RawResponse> {
  const head = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`;
  return rawExchange(port, Buffer.from(head, 'latin1'));
}

function view(response: RawResponse, port: number) {
  const v = seen(response);
  if (typeof v.location === 'string') v.location = v.location.replace(`:${port}/`, ':PORT/');
  return v;
}

for (const app of APPS) {
  for (const path of app.paths) {
    test(`${app.name}: GET ${path} as lighttpd`, async (t) => {
      const servers = running.get(app.name)!;
      const [expected, actual] = await Promise.all([
        get(servers.lighttpd.port, path),
        get(servers.koaPort, path),
      ]);
      t.deepEqual(view(actual, servers.koaPort), view(expected, servers.lighttpd.port));
    });
    if (!app.koa) continue;
    test(`${app.name} in Koa (README): GET ${path} as lighttpd`, async (t) => {
      const servers = running.get(app.name)!;
      const koa = koaApps.get(app.name)!;
      const [expected, actual] = await Promise.all([get(servers.lighttpd.port, path), get(koa.port, path)]);
      t.deepEqual(view(actual, koa.port), view(expected, servers.lighttpd.port));
    });
  }
}

test('a front controller gets /some/pretty/path?x=1 with REQUEST_URI and QUERY_STRING as sent', async (t) => {
  const servers = running.get('Laravel')!;
  const response = await get(servers.koaPort, '/some/pretty/path?x=1');
  t.is(response.status, 200);
  t.is(
    response.body.toString(),
    'script=index.php\nREQUEST_URI=/some/pretty/path?x=1\nQUERY_STRING=x=1\nSCRIPT_NAME=/index.php\n' +
      'PATH_INFO=/some/pretty/path\nPHP_SELF=/index.php/some/pretty/path\nGET={"x":"1"}\n',
  );
});
