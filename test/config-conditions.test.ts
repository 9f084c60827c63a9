import test from 'ava';
import { effectiveOptions, effectiveSources, matchingBlocks } from '../src/config/evaluate.js';
import type { Facts } from '../src/config/facts.js';
import type { Config } from '../src/config/model.js';
import { parseConfigString } from '../src/config/parser.js';
import type { ConfigArray } from '../src/config/values.js';

/** Facts for a plain GET of `/`; headers as byte strings, the way Node hands them out. */
function facts(over: Partial<Omit<Facts, 'header'>> & { headers?: Record<string, string> } = {}): Facts {
  const headers = over.headers ?? {};
  return {
    url: '/',
    host: 'www.example.org',
    referer: undefined,
    useragent: undefined,
    cookie: undefined,
    language: undefined,
    remoteip: '127.0.0.1',
    querystring: '',
    requestMethod: 'GET',
    scheme: 'http',
    serverSocket: ':80',
    ...over,
    header: (name) => headers[name.toLowerCase()],
  };
}

/** The value of `key` for a request, after all matching blocks. */
function optionFor(config: Config, f: Facts, key: string) {
  return effectiveOptions(config, matchingBlocks(config, f)).get(key);
}

const hotlink = parseConfigString(`
url.access-deny = ( "~" )
$HTTP["referer"] !~ "^($|http://www\\.example\\.org)" {
  url.access-deny = ( ".jpg", ".jpeg", ".png" )
}
`);

// spec 5.2: which Referer values make the hotlink rule deny .jpg
const refererTable: [string, string | undefined, boolean][] = [
  ['absent', undefined, false],
  ['empty', '', false],
  ['same site', 'http://www.example.org/page', false],
  ['prefix trick', 'http://www.example.org.evil.com/', false],
  ['https', 'https://www.example.org/', true],
  ['other site', 'http://evil.example/', true],
  ['invalid UTF-8 (byte 0xFF)', 'http://www.example.org/\xff', true],
];
for (const [label, referer, denied] of refererTable) {
  test(`hotlink rule, Referer ${label}: ${denied ? 'denied' : 'allowed'}`, (t) => {
    const deny = optionFor(hotlink, facts({ referer, url: '/pic.jpg' }), 'url.access-deny') as ConfigArray;
    t.is(deny.values().includes('.jpg'), denied);
  });
}

test('valid UTF-8 in a header is matched as text, one character per code point', (t) => {
  const config = parseConfigString('$HTTP["useragent"] =~ "^caf.$" { x.a = 1 }\n');
  const utf8Bytes = Buffer.from('café', 'utf8').toString('latin1'); // 5 bytes, 4 code points
  t.is(optionFor(config, facts({ useragent: utf8Bytes }), 'x.a'), 1);
  t.is(optionFor(config, facts({ useragent: 'caf\xe9' }), 'x.a'), undefined, 'lone 0xE9 is invalid UTF-8');
});

test('=~ on invalid UTF-8 is false and !~ is true', (t) => {
  const config = parseConfigString(`
$HTTP["useragent"] =~ "bot" { x.match = 1 }
$HTTP["useragent"] !~ "bot" { x.nomatch = 1 }
`);
  const options = effectiveOptions(config, matchingBlocks(config, facts({ useragent: 'bot\xff' })));
  t.is(options.get('x.match'), undefined);
  t.is(options.get('x.nomatch'), 1);
});

test('a missing header compares as the empty string', (t) => {
  const config = parseConfigString(`
$REQUEST_HEADER["X-Token"] == "" { x.none = 1 }
$REQUEST_HEADER["X-Token"] == "abc" { x.abc = 1 }
`);
  t.deepEqual(matchingBlocks(config, facts()), [1]);
  t.deepEqual(matchingBlocks(config, facts({ headers: { 'x-token': 'abc' } })), [2]);
});

test('nested blocks count only when the parent holds, parents first', (t) => {
  const config = parseConfigString(`
$HTTP["host"] == "a.example" {
  x.a = 1
  $HTTP["url"] =^ "/dl/" {
    x.a = 2
  }
}
$HTTP["url"] =^ "/dl/" { x.b = 1 }
`);
  t.deepEqual(matchingBlocks(config, facts({ host: 'a.example', url: '/dl/x' })), [1, 2, 3]);
  t.deepEqual(matchingBlocks(config, facts({ host: 'b.example', url: '/dl/x' })), [3]);
  t.is(optionFor(config, facts({ host: 'a.example', url: '/dl/x' }), 'x.a'), 2);
});

test('else chains: the first branch that holds, else the plain else', (t) => {
  const config = parseConfigString(`
$HTTP["url"] =^ "/a" { x.v = "a" }
else $HTTP["url"] =^ "/b" { x.v = "b" }
else $HTTP["url"] =^ "/" { x.v = "slash" }
else { x.v = "never" }
`);
  t.is(optionFor(config, facts({ url: '/a' }), 'x.v'), 'a');
  t.is(optionFor(config, facts({ url: '/b' }), 'x.v'), 'b');
  t.is(optionFor(config, facts({ url: '/c' }), 'x.v'), 'slash');
  t.deepEqual(matchingBlocks(config, facts({ url: '/b' })), [2]);
});

test('an else branch inside a false parent does not apply', (t) => {
  const config = parseConfigString(`
$HTTP["host"] == "a.example" {
  $HTTP["url"] =^ "/x" { x.v = 1 } else { x.v = 2 }
}
`);
  t.deepEqual(matchingBlocks(config, facts({ host: 'b.example', url: '/y' })), []);
  t.deepEqual(matchingBlocks(config, facts({ host: 'a.example', url: '/y' })), [1, 3]);
});

test('=^ and =$ are byte prefix and suffix tests', (t) => {
  const config = parseConfigString(`
$HTTP["url"] =^ "/dl/" { x.prefix = 1 }
$HTTP["url"] =$ ".php" { x.suffix = 1 }
`);
  t.deepEqual(matchingBlocks(config, facts({ url: '/dl/a.php' })), [1, 2]);
  t.deepEqual(matchingBlocks(config, facts({ url: '/x/dl/a.PHP' })), []);
});

test('host ==: a :port suffix is ignored when the lengths differ (spec 5.3)', (t) => {
  const config = parseConfigString('$HTTP["host"] == "BLOCKED.example" { x.blocked = 1 }\n');
  const blocked = (host: string) => optionFor(config, facts({ host }), 'x.blocked') === 1;
  t.true(blocked('blocked.example'));
  t.true(blocked('blocked.example:30081'));
  t.false(blocked('blocked.example.org'));
  t.false(blocked('blocked.exampl'));
  t.false(blocked('blocked.example:1234567'), 'a "port" longer than 5 digits is no port');
  const withPort = parseConfigString('$HTTP["host"] != "a.example:8080" { x.other = 1 }\n');
  t.is(optionFor(withPort, facts({ host: 'a.example' }), 'x.other'), undefined);
  t.is(optionFor(withPort, facts({ host: 'a.example:8081' }), 'x.other'), 1);
});

test('remoteip == and != with CIDR masks, IPv4 and IPv6', (t) => {
  const config = parseConfigString(`
$HTTP["remoteip"] == "10.0.0.0/8" { x.ten = 1 }
$HTTP["remoteip"] == "192.168.1.7" { x.exact = 1 }
$HTTP["remoteip"] == "2001:db8::/32" { x.v6 = 1 }
$HTTP["remoteip"] != "127.0.0.0/8" { x.remote = 1 }
`);
  t.deepEqual(matchingBlocks(config, facts({ remoteip: '10.1.2.3' })), [1, 4]);
  t.deepEqual(matchingBlocks(config, facts({ remoteip: '11.0.0.1' })), [4]);
  t.deepEqual(matchingBlocks(config, facts({ remoteip: '192.168.1.7' })), [2, 4]);
  t.deepEqual(matchingBlocks(config, facts({ remoteip: '2001:db8:1::5' })), [3, 4]);
  t.deepEqual(matchingBlocks(config, facts({ remoteip: '127.0.0.1' })), []);
  t.deepEqual(matchingBlocks(config, facts({ remoteip: '::ffff:10.9.9.9' })), [1, 4], 'IPv4-mapped');
});

test('simple regexes become byte tests as in lighttpd -p, others stay regexes', (t) => {
  const config = parseConfigString(`
$HTTP["url"] =~ "^/dl/" { }
$HTTP["url"] =~ "\\.jpg$" { }
$HTTP["url"] =~ "^/exact$" { }
$HTTP["url"] =~ "^/(a|b)/" { }
`);
  t.deepEqual(
    config.blocks.map((b) => [b.condition!.op, b.condition!.pattern]),
    [
      ['=^', '/dl/'],
      ['=$', '.jpg'],
      ['==', '/exact'],
      ['=~', '^/(a|b)/'],
    ],
  );
  t.deepEqual(matchingBlocks(config, facts({ url: '/b/x.jpg' })), [2, 4]);
});

test('PCRE syntax JavaScript lacks: escaped punctuation, lone braces, $ before a final newline', (t) => {
  const config = parseConfigString(`
$HTTP["useragent"] =~ "^a\\-b\\"c{x}$" { x.a = 1 }
$HTTP["useragent"] =~ "(?i)^MOZ" { x.b = 1 }
$HTTP["useragent"] =~ "[[:digit:]]{3}" { x.c = 1 }
`);
  t.deepEqual(matchingBlocks(config, facts({ useragent: 'a-b"c{x}' })), [1]);
  t.deepEqual(matchingBlocks(config, facts({ useragent: 'mozilla' })), [2]);
  t.deepEqual(matchingBlocks(config, facts({ useragent: 'x123' })), [3]);
  t.deepEqual(matchingBlocks(config, facts({ useragent: 'a-b"c{x}\n' })), [1]);
});

test('every $HTTP field reads its fact', (t) => {
  const config = parseConfigString(`
$HTTP["querystring"] == "a=1" { x.q = 1 }
$HTTP["request-method"] == "POST" { x.m = 1 }
$HTTP["scheme"] == "https" { x.s = 1 }
$HTTP["cookie"] =~ "sid=" { x.c = 1 }
$HTTP["language"] =^ "de" { x.l = 1 }
$HTTP["user-agent"] =$ "bot" { x.u = 1 }
$SERVER["socket"] == ":8443" { x.k = 1 }
`);
  const all = facts({
    querystring: 'a=1',
    requestMethod: 'POST',
    scheme: 'https',
    cookie: 'sid=2',
    language: 'de-CH',
    useragent: 'a bot',
    serverSocket: ':8443',
  });
  t.deepEqual(matchingBlocks(config, all), [1, 2, 3, 4, 5, 6, 7]);
  t.deepEqual(matchingBlocks(config, facts()), []);
});

test('effective options: global overlaid by matching blocks in file order, last wins', (t) => {
  const config = parseConfigString(`
url.access-deny = ( "~", ".inc" )
$HTTP["url"] =^ "/sub/" { url.access-deny = ( "index.html" ) }
$HTTP["url"] =^ "/sub/keep/" { url.access-deny += ( ".bak" ) }
`);
  const deny = (url: string) =>
    (optionFor(config, facts({ url }), 'url.access-deny') as ConfigArray).values();
  t.deepEqual(deny('/x'), ['~', '.inc']);
  t.deepEqual(deny('/sub/x'), ['index.html']);
  // += copied the global value at parse time; the later block wins over /sub/'s
  t.deepEqual(deny('/sub/keep/x'), ['~', '.inc', '.bak']);
  t.is(effectiveOptions(config, []), config.global);
});

test('effective sources name the line and the block that set each effective option', (t) => {
  const config = parseConfigString('x.a = 1\n$HTTP["url"] =^ "/s" {\n  x.a = 2\n}\n', { file: '/c.conf' });
  t.deepEqual(effectiveSources(config, [])?.get('x.a'), { key: 'x.a', file: '/c.conf', line: 1, block: 0 });
  t.deepEqual(effectiveSources(config, [1]).get('x.a'), { key: 'x.a', file: '/c.conf', line: 3, block: 1 });
});
