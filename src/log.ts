/**
 * The error log every stage writes to. lighttpd users read `server.errorlog`; the line format
 * follows lighttpd's (`YYYY-MM-DD HH:MM:SS: (source) message`).
 */
export interface Logger {
  error(source: string, message: string): void;
  warn(source: string, message: string): void;
  info(source: string, message: string): void;
}

function stamp(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A logger writing whole lines to a writable (stderr by default). */
export function streamLogger(out: { write(line: string): unknown } = process.stderr): Logger {
  const line = (level: string) => (source: string, message: string) => {
    out.write(`${stamp()}: (${source}) ${level}${message}\n`);
  };
  return { error: line(''), warn: line('warning: '), info: line('') };
}

/** A logger for tests and quiet embedding: keeps the lines in memory. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (level: string) => (source: string, message: string) => {
    lines.push(`(${source}) ${level}${message}`);
  };
  return { lines, error: push(''), warn: push('warning: '), info: push('') };
}

export const defaultLogger: Logger = streamLogger();
