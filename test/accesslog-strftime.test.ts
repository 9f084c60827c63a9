/**
 * The `%{…}t` times against glibc's strftime(3), which lighttpd calls: Python's time.strftime
 * is a thin wrapper around it, run here in the C locale for each time zone.
 */
import { execFileSync } from 'node:child_process';
import test from 'ava';
import { strftime } from '../src/accesslog/strftime.js';

const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata'];
// New year's edges (ISO weeks), a leap day, a DST change, and now-ish.
const TIMES = [
  0, 951_782_400, 1_230_768_000, 1_609_459_199, 1_704_067_200, 1_711_846_800, 1_735_603_200, 1_796_686_611,
];
const FORMATS = [
  '%a %A %b %B %c %C %d %D %e %F %g %G %h %H %I %j %k %l %m %M %n %p %P %r %R %s %S %t %T %u %U %V %w %W %x %X %y %Y %z %%',
  '%Z %#Z',
  '%_d|%-d|%05d|%^a|%#a|%#p|%10B|%-j|%_H|%Ey|%Od|%q|%',
  '[%d/%b/%Y:%T %z]',
  '%s',
];

const glibc = (zone: string): string[][] =>
  JSON.parse(
    execFileSync(
      'python3',
      [
        '-c',
        'import json,sys,time\n' +
          'fs=json.loads(sys.argv[1]); ts=json.loads(sys.argv[2])\n' +
          'print(json.dumps([[time.strftime(f, time.localtime(t)) for f in fs] for t in ts]))',
        JSON.stringify(FORMATS),
        JSON.stringify(TIMES),
      ],
      { env: { TZ: zone, LC_ALL: 'C', PATH: process.env.PATH } },
    ).toString(),
  );

test.serial('strftime: the same text as glibc in the C locale, in several time zones', (t) => {
  const zone = process.env.TZ;
  t.teardown(() => {
    if (zone === undefined) delete process.env.TZ;
    else process.env.TZ = zone;
  });
  for (const tz of ZONES) {
    const expected = glibc(tz);
    // Node follows a change of TZ at once.
    process.env.TZ = tz;
    // Node has no tzname: %Z is what Intl calls the zone, which for India is not glibc's IST.
    for (const [i, time] of TIMES.entries())
      for (const [j, format] of FORMATS.entries())
        if (!(format.startsWith('%Z') && tz === 'Asia/Kolkata'))
          t.is(strftime(format, time), expected[i]![j], `${tz} @${time} ${JSON.stringify(format)}`);
  }
});
