/**
 * The README's Koa example: PHP through a spawned php-cgi, access rules and static files.
 * `npm run build && node --import tsx examples/koa-php.ts` (a test runs it with the env below).
 */
import Koa from 'koa';
import { accessDeny, fastcgi, lighttpdErrors, staticFiles } from 'koa-lighty';

const documentRoot = process.env.DOCUMENT_ROOT ?? '/srv/www';
const php = fastcgi({
  documentRoot,
  indexFiles: ['index.php', 'index.html'],
  backends: [
    {
      key: '.php',
      hosts: [
        {
          binPath: '/usr/bin/php-cgi', // spawned, supervised, stopped with php.close()
          socket: process.env.PHP_SOCKET ?? '/run/koa-lighty/php.sock', // php-cgi listens on php.sock-0
          maxProcs: 1,
          phpFcgiChildren: 4,
          allowXSendFile: true,
          xSendfileDocroot: [process.env.PROTECTED ?? '/srv/protected/'],
        },
      ],
    },
  ],
});
await php.ready(); // php-cgi accepts connections

const app = new Koa();
app.use(lighttpdErrors()); // lighttpd's error pages, one log line each
app.use(accessDeny({ deny: ['~', '.inc'] })); // both of lighttpd's access checks
app.use(php); // .php → php-cgi over FastCGI
app.use(staticFiles({ documentRoot, indexFiles: ['index.php', 'index.html'] }));
const server = app.listen(Number(process.env.PORT ?? 8080), '127.0.0.1', () => console.log('listening'));
process.on('SIGTERM', () => {
  server.close();
  php.close().then(() => process.exit(0));
});
