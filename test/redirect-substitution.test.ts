/** The rule engine of url.redirect and url.rewrite: normalisation, `$n`/`%n`/`${…}` substitution, the Location safety net. */
import test from 'ava';
import {
  normaliseRuleMatch,
  normaliseRuleTarget,
  type SubstitutionContext,
  safeLocation,
  substitute,
  type UrlParts,
  usesConditionCaptures,
} from '../src/middleware/rule-substitution.js';

function location(template: string, regex: RegExp, subject: string): string {
  const m = regex.exec(subject);
  if (!m) throw new Error('no match');
  return safeLocation(substitute(normaliseRuleTarget(template), { match: m }));
}

test('rule regexes are normalised like the target: %xx upper-case, non-ASCII as %XX', (t) => {
  t.is(normaliseRuleMatch('^/pct%c3%a4/(.*)$'), '^/pct%C3%A4/(.*)$');
  t.is(normaliseRuleMatch('^/ä/€'), '^/%C3%A4/%E2%82%AC');
});

test('rule targets: %%xx upper-case, non-ASCII as %%XX so the result carries %XX', (t) => {
  t.is(normaliseRuleTarget('/%%c3%%a4/ä'), '/%%C3%%A4/%%C3%%A4');
});

test('$n is the capture as it stands; $$ and %% are escapes; other $x and %x stay', (t) => {
  t.is(location('/new/$1', /^\/old(\/.*)$/, '/old/a%20b'), '/new//a%20b');
  t.is(location('$0|$2|$9', /^\/(a)(b)?/, '/a'), '/a||');
  t.is(location('/%%41/$$/%a/$x/$', /^/, '/'), '/%41/$/%a/$x/$');
});

test('whatever the substitution yields, no raw space, control or non-ASCII byte reaches Location', (t) => {
  const m = /^(.*)$/s.exec('a b\tc\r\nd\x7fé') as RegExpExecArray;
  t.is(safeLocation(substitute('/x/$1', { match: m })), '/x/a%20b%09c%0D%0Ad%7F%C3%A9');
});

test('a capture never makes Location protocol-relative; the rule itself may', (t) => {
  const slash = /^\/x(.*)$/.exec('/x/evil.example') as RegExpExecArray;
  t.is(safeLocation(substitute('/$1', { match: slash })), '/evil.example');
  t.is(safeLocation(substitute('$1', { match: slash })), '/evil.example');
  const backslash = /^\/x(.*)$/.exec('/x\\evil.example') as RegExpExecArray;
  t.is(safeLocation(substitute('/$1', { match: backslash })), '/evil.example');
  t.is(
    safeLocation(substitute('$1', { match: /^\/x(.*)$/.exec('/x//\\//evil') as RegExpExecArray })),
    '/evil',
  );
  const empty = /^\/x(.*)$/.exec('/x') as RegExpExecArray;
  t.is(safeLocation(substitute('/$1/evil.example', { match: empty })), '/evil.example');
  t.is(safeLocation(substitute('//cdn.example/$1', { match: slash })), '//cdn.example//evil.example');
  t.is(safeLocation(substitute('http://$1', { match: slash })), 'http:///evil.example');
});

test('%1… (an enclosing condition capture) is told apart from the %% escape', (t) => {
  t.true(usesConditionCaptures('http://%1/$1'));
  t.true(usesConditionCaptures('%%%1'));
  t.false(usesConditionCaptures('/%%41/$1'));
  t.false(usesConditionCaptures('/%a'));
  t.true(usesConditionCaptures('/%{esc:1}'));
});

function text(template: string, regex: RegExp, subject: string, extra: Partial<SubstitutionContext> = {}) {
  return substitute(normaliseRuleTarget(template), { match: regex.exec(subject)!, ...extra }).text;
}

const url: UrlParts = {
  scheme: 'http',
  authority: 'example.org',
  port: 8080,
  target: '/a%20b/c?x=1',
  query: 'x=1',
};

test(`\${n} and its modifiers recode the capture (lighttpd 1.4.69, toupper: included)`, (t) => {
  const m = /^\/(.*)$/;
  t.is(text(`\${1}`, m, '/A%20b/+?'), 'A%20b/%2B%3F'); // default: everything but unreserved and /
  t.is(text(`\${esc:1}`, m, '/A%20b/'), 'A%2520b%2F');
  t.is(text(`\${escape:1}`, m, '/a/b'), 'a%2Fb');
  t.is(text(`\${escnde:1}`, m, '/a%2fb/c%7e'), 'a%2fb%2Fc~');
  t.is(text(`\${escpsnde:1}`, m, '/a%2fb/c%7e'), 'a%2fb/c~');
  t.is(text(`\${noesc:1}`, m, '/a%20b'), 'a%20b');
  t.is(text(`\${tolower:esc:1}`, m, '/AB~'), 'ab~');
  t.is(text(`\${toupper:esc:1}`, m, '/ab'), 'ab');
  t.is(text(`\${tolower:1}`, m, '/AB'), '');
  t.is(text(`\${encb64u:1}`, m, '/hello'), 'aGVsbG8');
  t.is(text(`\${decb64u:1}`, m, '/aGVsbG8'), 'hello');
  t.is(text(`\${decb64u:1}`, m, '/w7Q'), '%C3%B4');
  t.is(text(`\${decb64u:1}`, m, '/a'), '');
  t.is(text(`/x/\${10}`, m, '/y'), '/x/');
});

test('%n and %{n} are the condition captures; none without a condition', (t) => {
  const m = /^\/(.*)$/;
  const conditionMatch = ['www.example.org', 'www'];
  t.is(
    text('%0|%1|%2|%{1}|%{esc:0}', m, '/p', { conditionMatch }),
    'www.example.org|www||www|www.example.org',
  );
  t.is(text('%0|%1', m, '/p'), '|');
});

test(`\${url.…} and \${qsa} name the request; a broken \${ cuts the result there`, (t) => {
  const m = /^/;
  t.is(
    text(`\${url.scheme}://\${url.authority}:\${url.port}\${url.path}`, m, '/', { url }),
    'http://example.org:8080/a%20b/c',
  );
  t.is(text(`?q=\${url.query}&e=\${esc:url.path}`, m, '/', { url }), '?q=x=1&e=%2Fa%2520b%2Fc');
  t.is(text(`/n\${qsa}`, m, '/', { url }), '/n?x=1');
  t.is(text(`/n?a=b\${qsa}`, m, '/', { url }), '/n?a=b&x=1');
  t.is(text(`/n\${qsa}`, m, '/', { url: { ...url, query: undefined } }), '/n');
  t.is(text(`/n?a\${qsa}`, m, '/', { url: { ...url, query: '' } }), '/n?a');
  t.is(text(`/n\${url.nothing}/x`, m, '/', { url }), '/n/x');
  t.is(text(`/kept/\${1`, m, '/'), '/kept/');
});
