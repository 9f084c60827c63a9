/**
 * Shared set-up for the fastcgi middleware tests: a real php-cgi on a free port, a Koa app
 * with `fastcgi()` in front of it, all torn down (by pid) after the test.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo, Server } from 'node:net';
import type { ExecutionContext } from 'ava';
import Koa from 'koa';
import { memoryLogger } from '../src/log.js';
import {
  type FastCgiHost,
  type FastCgiMiddleware,
  type FastCgiOptions,
  fastcgi,
} from '../src/middleware/fastcgi.js';
import { serve } from './helpers/http.js';
import { PHP_FIXTURES, type RunningPhpCgi, startPhpCgi } from './helpers/php-cgi.js';

export { PHP_FIXTURES };

export interface PhpSite {
  port: number;
  url: string;
  php: RunningPhpCgi;
  mw: FastCgiMiddleware;
  log: ReturnType<typeof memoryLogger>;
}

export interface PhpSiteOptions {
  children?: number;
  /** PHP_FCGI_MAX_REQUESTS */
  maxRequests?: number;
  host?: Partial<FastCgiHost>;
  middleware?: Partial<FastCgiOptions>;
}

/** fastcgi() with these options, ready, in a Koa app on a free port; all closed in teardown. */
export async function fastcgiApp(t: ExecutionContext, options: FastCgiOptions) {
  const mw = fastcgi(options);
  await mw.ready();
  t.teardown(() => mw.close());
  const app = new Koa();
  app.silent = true;
  app.use(mw);
  const server = await serve(app);
  t.teardown(() => server.close());
  return { mw, server };
}

/** php-cgi + fastcgi() + Koa, on free ports; everything stops in teardown. */
export async function phpSite(t: ExecutionContext, options: PhpSiteOptions = {}): Promise<PhpSite> {
  const php = await startPhpCgi({ children: options.children ?? 2, maxRequests: options.maxRequests });
  t.teardown(() => php.stop());
  const address = php.address as { host: string; port: number };
  const log = memoryLogger();
  const { mw, server } = await fastcgiApp(t, {
    documentRoot: PHP_FIXTURES,
    backends: [{ key: '.php', hosts: [{ host: address.host, port: address.port, ...options.host }] }],
    log,
    ...options.middleware,
  });
  return { port: server.port, url: server.url, php, mw, log };
}

/** The parts of node-fastcgi (no type declarations of its own) that the tests use. */
interface NodeFastCgi {
  createServer(
    handler: (
      req: IncomingMessage & { socket: { params: Record<string, string> } },
      res: ServerResponse,
    ) => void,
  ): Server;
}

/**
 * A FastCGI app written in Node with node-fastcgi: not PHP, and it closes its connection
 * after every request (it ignores FCGI_KEEP_CONN).
 */
export async function nodeFastCgiApp(
  t: ExecutionContext,
  handler: Parameters<NodeFastCgi['createServer']>[0],
): Promise<{ host: string; port: number }> {
  const fcgi = createRequire(import.meta.url)('node-fastcgi') as NodeFastCgi;
  const server = fcgi.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { host: '127.0.0.1', port: (server.address() as AddressInfo).port };
}
