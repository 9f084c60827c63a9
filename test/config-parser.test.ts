import { resolve } from 'node:path';
import test from 'ava';
import { ConfigError } from '../src/config/errors.js';
import { parseConfigFile, parseConfigString } from '../src/config/parser.js';
import { printConfig, printValue } from '../src/config/print.js';
import { ConfigArray, toBool, toInt } from '../src/config/values.js';

const grammar = resolve('fixtures/conf/parser/grammar/features.conf');

test('values keep lighttpd types: strings, integers, lists and keyed arrays', (t) => {
  const config = parseConfigFile(grammar);
  const g = config.global;
  t.is(g.get('server.tag'), 'a"b\\c\\\\d', 'only \\" is an escape');
  t.is(g.get('x.concat-int'), 'port-80');
  t.is(g.get('x.int-str'), '80/tcp');
  t.is(g.get('x.sum'), 6);
  t.is(g.get('x.wrapped'), 1, 'integers wrap to 32 bits like lighttpd');
  const list = g.get('x.list') as ConfigArray;
  t.true(list.isList);
  t.deepEqual(list.values(), ['a', 'b']);
  const nested = g.get('x.nested') as ConfigArray;
  t.true(nested.isKeyed);
  const deep = ((nested.get('k') as ConfigArray).get('l') as ConfigArray).get('n') as ConfigArray;
  t.deepEqual(deep.values(), ['deep']);
  t.is((g.get('x.empty') as ConfigArray).length, 0);
  t.is(g.get('var.docs'), '/srv/docs', 'a bare name is a user variable');
  t.is(g.get('x.home'), process.env.HOME);
  t.is(g.get('x.shell'), 42);
  t.is(g.get('x.nbsp'), 'no-break space is whitespace');
  t.deepEqual((g.get('x.glob-order') as ConfigArray).values(), ['10', '20']);
});

test('+= in a block copies the outer value at parse time; := replaces', (t) => {
  const config = parseConfigFile(grammar);
  t.deepEqual((config.global.get('x.list2') as ConfigArray).values(), ['c']);
  t.deepEqual((config.blocks[0]!.options.get('x.list2') as ConfigArray).values(), ['a', 'b']);
  t.deepEqual((config.global.get('index-file.names') as ConfigArray).values(), ['index.html']);
});

test('a repeated condition reuses its block, as lighttpd does', (t) => {
  const config = parseConfigFile(grammar);
  t.is(config.blocks[0]!.options.get('x.merged-into-first'), 1);
});

test('the fastcgi.server nesting is kept with labels and order', (t) => {
  const config = parseConfigFile(resolve('fixtures/conf/parser/spec/fastcgi-server.conf'));
  const server = config.global.get('fastcgi.server') as ConfigArray;
  t.deepEqual(server.keys(), ['.php', '/app/']);
  const php = server.get('.php') as ConfigArray;
  t.deepEqual(php.keys(), ['php-local']);
  const host = php.get('php-local') as ConfigArray;
  t.is(host.get('max-procs'), 2);
  t.true(toBool(host.get('allow-x-send-file')!, 'allow-x-send-file'));
  const app = server.get('/app/') as ConfigArray;
  t.true(app.isList);
  t.is((app.values()[1] as ConfigArray).get('host'), '10.0.0.2');
});

test('env and cwd come from the options; var.CWD and var.PID are predefined', (t) => {
  const config = parseConfigString('x.a = env.GREETING + " from " + var.CWD\n', {
    env: { GREETING: 'hello' },
    cwd: '/some/where',
    pid: 4242,
  });
  t.is(config.global.get('x.a'), 'hello from /some/where');
  t.is(config.global.get('var.PID'), 4242);
});

test('option sources give file and line for later value errors', (t) => {
  const config = parseConfigString('\n\nserver.port = "eighty"\n', { file: '/etc/x.conf' });
  const at = config.globalSources.get('server.port')!;
  t.deepEqual(at, { file: '/etc/x.conf', line: 3 });
  const error = t.throws(() => toInt(config.global.get('server.port')!, { key: 'server.port', ...at }), {
    instanceOf: ConfigError,
  });
  t.is(error.message, '/etc/x.conf:3: server.port: expected an integer, got "eighty"');
});

test('toBool accepts lighttpd words in any case and integers', (t) => {
  for (const yes of ['enable', 'Enabled', 'TRUE', '1', 1, 7]) t.true(toBool(yes, 'x'));
  for (const no of ['disable', 'DISABLED', 'false', '0', 0]) t.false(toBool(no, 'x'));
  t.throws(() => toBool('yes', 'x.opt'), { instanceOf: ConfigError, message: /x\.opt: expected "enable"/ });
  t.throws(() => toBool(new ConfigArray(), 'x'), { instanceOf: ConfigError });
});

test('toInt accepts integers and decimal strings, with bounds', (t) => {
  t.is(toInt(60, 'x'), 60);
  t.is(toInt('8080', 'x'), 8080);
  t.is(toInt(' 42', 'x'), 42);
  t.throws(() => toInt('8080x', 'x'), { instanceOf: ConfigError });
  t.throws(() => toInt(70000, 'server.port', { min: 0, max: 65535 }), { message: /outside/ });
});

test('printConfig is plain JSON and keeps array order', (t) => {
  const config = parseConfigString(`
x.map = ( "b" => 1, "a" => 2 )
x.codes = ( "404" => "/404.html", "500" => "/500.html" )
x.mixed = ( "plain", "k" => "v" )
$HTTP["url"] =^ "/a" { x.v = 1 } else { x.v = 2 }
`);
  const printed = printConfig(config, { omitPredefined: true });
  t.deepEqual(JSON.parse(JSON.stringify(printed)), printed);
  t.deepEqual(Object.keys(printed.options['x.map'] as object), ['b', 'a']);
  t.deepEqual(printed.options['x.codes'], {
    $entries: [
      ['404', '/404.html'],
      ['500', '/500.html'],
    ],
  });
  t.deepEqual(printValue(config.global.get('x.mixed')!), {
    $entries: [
      [null, 'plain'],
      ['k', 'v'],
    ],
  });
  t.deepEqual(
    printed.blocks.map((b) => [b.id, b.condition, b.else]),
    [
      [1, '$HTTP["url"] =^ "/a"', false],
      [2, 'else', true],
    ],
  );
});

test('a statement ends at a newline, or at text after a closing brace', (t) => {
  const config = parseConfigString('$HTTP["url"] =^ "/a" { x.a = (\n 1,\n 2\n) } x.b = 3\n');
  t.is(config.global.get('x.b'), 3);
  t.deepEqual((config.blocks[0]!.options.get('x.a') as ConfigArray).values(), [1, 2]);
});

test('include_shell output errors name the command and its line', (t) => {
  const error = t.throws(() => parseConfigString('include_shell "printf \'x.a = 1\\nx.b = nope\\n\'"\n'), {
    instanceOf: ConfigError,
  });
  t.is(error.line, 2);
  t.regex(error.file, /^printf /);
});
