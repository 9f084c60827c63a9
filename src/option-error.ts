/**
 * A stage's options that cannot work, found when the stage is built (once, not per request).
 * `option` names the stage's option (`status`); the lighttpd.conf front end turns the error
 * into a ConfigError at the line of the config key behind it (`url.redirect-code`), so a
 * check is written once, in the stage, for Koa users and config users alike.
 */
export class OptionError extends Error {
  override readonly name = 'OptionError';

  constructor(
    /** What kind of mistake, for programs: `ERR_REDIRECT_STATUS`. */
    readonly code: string,
    /** The option of the stage's options object. */
    readonly option: string,
    /** What is wrong, without the option's name. */
    readonly reason: string,
  ) {
    super(`${option}: ${reason}`);
  }
}
