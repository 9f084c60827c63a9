/** url.redirect's rule normalisation, `$n` substitution and the Location safety net (units). */
import test from 'ava';
import {
  normaliseRuleMatch,
  normaliseRuleTarget,
  safeLocation,
  substitute,
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
});
