/**
 * strftime(3) as glibc does it in the C locale, in local time: what lighttpd's `%t` and
 * `%{…}t` print (Pi-hole logs `%{%s}t`). Flags `_ - 0 ^ #`, a field width and the E/O
 * modifiers (no effect in the C locale) are understood; an unknown conversion is copied as
 * written, as glibc does.
 */

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** What the conversions need of one moment, in local time (struct tm plus the epoch second). */
interface Tm {
  epoch: number;
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number;
  yearDay: number;
  /** Minutes east of UTC. */
  offset: number;
  date: Date;
}

function localTm(epochSeconds: number): Tm {
  const date = new Date(epochSeconds * 1000);
  const year = date.getFullYear();
  const yearDay = Math.round(
    (Date.UTC(year, date.getMonth(), date.getDate()) - Date.UTC(year, 0, 1)) / 86_400_000,
  );
  return {
    epoch: epochSeconds,
    year,
    month: date.getMonth(),
    day: date.getDate(),
    hour: date.getHours(),
    minute: date.getMinutes(),
    second: date.getSeconds(),
    weekday: date.getDay(),
    yearDay,
    offset: -date.getTimezoneOffset(),
    date,
  };
}

/** ISO 8601 week-based year and week (%G, %V). */
function isoWeek(tm: Tm): { year: number; week: number } {
  const mondayBased = (tm.weekday + 6) % 7;
  // The Thursday of this week decides the year.
  const thursday = tm.yearDay - mondayBased + 3;
  const daysIn = (y: number) => ((y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 366 : 365);
  if (thursday < 0) {
    const previous = tm.year - 1;
    return { year: previous, week: Math.floor((thursday + daysIn(previous)) / 7) + 1 };
  }
  if (thursday >= daysIn(tm.year)) return { year: tm.year + 1, week: 1 };
  return { year: tm.year, week: Math.floor(thursday / 7) + 1 };
}

/**
 * The zone's abbreviation (%Z). Node has no tzname; Intl knows the common ones in one English
 * locale or the other (EST in en-US, CET in en-GB), else it says GMT+9 where glibc says JST.
 */
const zoneFormats = new Map<string, Intl.DateTimeFormat>();

function zoneName(date: Date): string {
  const name = (locale: string) => {
    // Keyed by TZ too: Node follows a change of process.env.TZ, a cached formatter would not.
    const key = `${locale} ${process.env.TZ}`;
    let format = zoneFormats.get(key);
    if (!format) {
      format = new Intl.DateTimeFormat(locale, { timeZoneName: 'short' });
      zoneFormats.set(key, format);
    }
    return format.formatToParts(date).find((p) => p.type === 'timeZoneName')?.value ?? '';
  };
  const us = name('en-US');
  return /^GMT[+-]/.test(us) ? name('en-GB') : us;
}

type Conversion = { n: number; width: number; pad: '0' | ' ' } | { s: string; upper?: 'upper' | 'lower' };

function convert(c: string, tm: Tm): Conversion | string | undefined {
  const num = (n: number, width = 2, pad: '0' | ' ' = '0'): Conversion => ({ n, width, pad });
  const hour12 = tm.hour % 12 || 12;
  switch (c) {
    case 'a':
      return { s: DAYS[tm.weekday]!.slice(0, 3), upper: 'upper' };
    case 'A':
      return { s: DAYS[tm.weekday]!, upper: 'upper' };
    case 'b':
    case 'h':
      return { s: MONTHS[tm.month]!.slice(0, 3), upper: 'upper' };
    case 'B':
      return { s: MONTHS[tm.month]!, upper: 'upper' };
    case 'c':
      return strftime('%a %b %e %H:%M:%S %Y', tm.epoch);
    case 'C':
      return num(Math.floor(tm.year / 100));
    case 'd':
      return num(tm.day);
    case 'D':
    case 'x':
      return strftime('%m/%d/%y', tm.epoch);
    case 'e':
      return num(tm.day, 2, ' ');
    case 'F':
      return strftime('%Y-%m-%d', tm.epoch);
    case 'g':
      return num(isoWeek(tm).year % 100);
    case 'G':
      return num(isoWeek(tm).year, 1);
    case 'H':
      return num(tm.hour);
    case 'I':
      return num(hour12);
    case 'j':
      return num(tm.yearDay + 1, 3);
    case 'k':
      return num(tm.hour, 2, ' ');
    case 'l':
      return num(hour12, 2, ' ');
    case 'm':
      return num(tm.month + 1);
    case 'M':
      return num(tm.minute);
    case 'n':
      return '\n';
    case 'p':
      return { s: tm.hour < 12 ? 'AM' : 'PM', upper: 'lower' };
    case 'P':
      return tm.hour < 12 ? 'am' : 'pm';
    case 'r':
      return strftime('%I:%M:%S %p', tm.epoch);
    case 'R':
      return strftime('%H:%M', tm.epoch);
    case 's':
      return num(tm.epoch, 1);
    case 'S':
      return num(tm.second);
    case 't':
      return '\t';
    case 'T':
    case 'X':
      return strftime('%H:%M:%S', tm.epoch);
    case 'u':
      return num(tm.weekday || 7, 1);
    case 'U':
      return num(Math.floor((tm.yearDay + 7 - tm.weekday) / 7));
    case 'V':
      return num(isoWeek(tm).week);
    case 'w':
      return num(tm.weekday, 1);
    case 'W':
      return num(Math.floor((tm.yearDay + 7 - ((tm.weekday + 6) % 7)) / 7));
    case 'y':
      return num(tm.year % 100);
    case 'Y':
      return num(tm.year, 1);
    case 'z': {
      const sign = tm.offset < 0 ? '-' : '+';
      const abs = Math.abs(tm.offset);
      return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`;
    }
    case 'Z':
      return { s: zoneName(tm.date), upper: 'lower' };
    case '%':
      return '%';
    default:
      return undefined;
  }
}

const SPEC = /%([_\-0^#]*)(\d*)([EO]?)(.)/gs;

/** `format` for the moment `epochSeconds`, in the process's time zone (TZ), C locale. */
export function strftime(format: string, epochSeconds: number): string {
  let tm: Tm | undefined;
  return format.replace(SPEC, (whole, flags: string, widthText: string, _modifier: string, c: string) => {
    tm ??= localTm(epochSeconds);
    const result = convert(c, tm);
    if (result === undefined) return whole;
    const width = widthText ? Number(widthText) : 0;
    const upper = flags.includes('^');
    const swap = flags.includes('#');
    let text: string;
    let padChar = ' ';
    if (typeof result === 'string') text = result;
    else if ('n' in result) {
      const digits = String(Math.abs(result.n));
      const sign = result.n < 0 ? '-' : '';
      if (flags.includes('-')) return sign + digits;
      padChar = flags.includes('_') ? ' ' : flags.includes('0') ? '0' : result.pad;
      const size = Math.max(width || result.width, 1);
      return sign + digits.padStart(size - sign.length, padChar);
    } else {
      text = result.s;
      if (swap) text = result.upper === 'lower' ? text.toLowerCase() : text.toUpperCase();
      if (flags.includes('0')) padChar = '0';
    }
    if (upper) text = text.toUpperCase();
    return flags.includes('-') ? text : text.padStart(width, padChar);
  });
}
