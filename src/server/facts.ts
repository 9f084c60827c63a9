import type { Context } from 'koa';
import { type Facts, toByteString } from '../config/facts.js';
import type { RequestState } from '../http/request-state.js';
import { socketToken } from './socket-token.js';

/** What lighttpd.conf conditions see of one request (spec 5.3); header values are byte strings. */
export function requestFacts(ctx: Context, state: RequestState): Facts {
  const req = ctx.req;
  const headers = req.headers;
  const socket = req.socket;
  const one = (name: string): string | undefined => {
    const v = headers[name];
    return Array.isArray(v) ? v.join(', ') : v;
  };
  return {
    url: toByteString(state.path),
    host: (headers.host ?? '').toLowerCase(),
    referer: one('referer'),
    useragent: one('user-agent'),
    cookie: one('cookie'),
    language: one('accept-language'),
    remoteip: unmapped(socket.remoteAddress ?? ''),
    querystring: state.query,
    requestMethod: req.method ?? 'GET',
    scheme: 'encrypted' in socket ? 'https' : 'http',
    get serverSocket() {
      const token = socketToken(socket);
      if (token !== undefined) return token;
      const local = unmapped(socket.localAddress ?? '');
      return `${local.includes(':') ? `[${local}]` : local}:${socket.localPort}`;
    },
    header: (name: string) => one(name.toLowerCase()),
  };
}

function unmapped(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
