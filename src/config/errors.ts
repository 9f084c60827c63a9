/**
 * A lighttpd.conf that cannot be used. The message always starts with `file:line:` so that
 * `koa-lighty -t` output points at the line to fix, also inside included files.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(
    /** What is wrong, without the location. */
    readonly reason: string,
    /** The file (or include_shell command) the offending text came from. */
    readonly file: string,
    /** 1-based line in that file; 0 when the problem is not tied to a line. */
    readonly line: number,
  ) {
    super(line > 0 ? `${file}:${line}: ${reason}` : `${file}: ${reason}`);
  }
}
