import type { Middleware } from 'koa';
import { disableRangeRequests } from '../http/serve-file.js';

/**
 * server.range-requests = "disable": the answers of the stages after this one (static files,
 * secdownload, send-file, PHP output) are sent whole, with a 200 and no `Accept-Ranges`, whatever
 * Range the client asks for. lighttpd's own test suite turns it off for PDF files
 * (`$HTTP["url"] =~ "\.pdf$"`), which some old readers asked for in pieces they could not join.
 * A backend that sets its own Accept-Ranges keeps it.
 */
export function noRangeRequests(): Middleware {
  return function noRangeRequestsMiddleware(ctx, next) {
    disableRangeRequests(ctx);
    return next();
  };
}
