/**
 * A small site for the signal tests (SIGUSR1, SIGHUP): static files, PHP through a spawned
 * php-cgi on a unix socket, an error log and an access log, all in a temp dir.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SignalSite {
  dir: string;
  errorLog: string;
  accessLog: string;
  /** A file whose existence lets /hold.php finish (it waits for it). */
  release: string;
  /**
   * The lighttpd.conf text; `PORT` stands for the port, `extra` is appended, `phpEnv` is
   * added to php-cgi's bin-environment (`, "X" => "1"`).
   */
  conf(extra?: string, phpEnv?: string): string;
  /** The error log's text so far ('' when there is none). */
  errors(): string;
  remove(): void;
}

export function signalSite(): SignalSite {
  const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-signals-'));
  const www = join(dir, 'www');
  mkdirSync(www);
  writeFileSync(join(www, 'index.html'), 'index\n');
  writeFileSync(join(www, 'secret.txt'), 'secret\n');
  writeFileSync(join(www, 'pid.php'), '<?php echo getmypid();\n');
  writeFileSync(join(www, 'err.php'), "<?php error_log('php says ' . $_GET['m']); echo 'logged';\n");
  const release = join(dir, 'release');
  // Sends 64 KiB and a line at once (more than koa-lighty buffers before it streams, so the
  // client then knows it runs), then waits for the test to create the release file: in flight
  // for exactly as long as the test needs.
  writeFileSync(
    join(www, 'hold.php'),
    `<?php while (ob_get_level() > 0) ob_end_flush();\necho str_repeat('.', 65536), "started\\n"; flush();\nwhile (!file_exists('${release}')) usleep(20000);\necho "finished";\n`,
  );
  const errorLog = join(dir, 'error.log');
  const accessLog = join(dir, 'access.log');
  return {
    dir,
    errorLog,
    accessLog,
    release,
    conf: (extra = '', phpEnv = '') =>
      [
        `server.document-root = "${www}"`,
        'server.port = PORT',
        'server.bind = "127.0.0.1"',
        'server.modules = ( "mod_access", "mod_fastcgi", "mod_accesslog" )',
        `server.errorlog = "${errorLog}"`,
        `accesslog.filename = "${accessLog}"`,
        'server.max-keep-alive-requests = 65535',
        // One php-cgi master with two children, so /hold.php leaves one free.
        `fastcgi.server = ( ".php" => (( "bin-path" => "/usr/bin/php-cgi", "socket" => "${dir}/php.socket",`,
        `  "max-procs" => 1, "bin-environment" => ( "PHP_FCGI_CHILDREN" => "2"${phpEnv} ) )) )`,
        extra,
        '',
      ].join('\n'),
    errors: () => {
      try {
        return readFileSync(errorLog, 'utf8');
      } catch {
        return '';
      }
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
