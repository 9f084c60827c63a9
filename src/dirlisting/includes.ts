import { constants, promises as fs } from 'node:fs';
import { escapeXml } from './format.js';

/**
 * What dir-listing.show-header / show-readme put into the page: the file's bytes as they are,
 * or (encode-header / encode-readme, the default) escaped inside `<pre class="header">` or
 * `<pre class="readme">`. A name without a leading `/` is looked up in the listed directory
 * (appended to its path as written, so `../README.txt` works), an absolute one is used as it
 * is. A missing or empty file adds nothing; with server.follow-symlink off a symlinked one
 * neither (opened with O_NOFOLLOW, as lighttpd opens it).
 *
 * lighttpd 1.4.69 opens whatever the name leads to. A directory (its "disable" leaves the name
 * empty, which names the listed directory itself) gives an empty `<pre …></pre>` when
 * encoding, reproduced here; unencoded, lighttpd breaks the connection, where koa-lighty adds
 * nothing. A fifo or device adds nothing here (it could block the reader).
 */
export async function includedFile(
  directory: string,
  name: string,
  options: { encode: boolean; kind: 'header' | 'readme'; followSymlink: boolean },
): Promise<Buffer | undefined> {
  const path = name.startsWith('/') ? name : directory + name;
  let st: Awaited<ReturnType<typeof fs.stat>>;
  try {
    st = await fs.stat(path);
  } catch {
    return undefined;
  }
  if (st.size === 0) return undefined;
  const open = `<pre class="${options.kind}">`;
  if (st.isDirectory()) return options.encode ? Buffer.from(`${open}</pre>`) : undefined;
  if (!st.isFile()) return undefined;
  let bytes: Buffer;
  try {
    // O_NONBLOCK: should a fifo take the file's place after the stat, opening it must not wait.
    const flags =
      constants.O_RDONLY | constants.O_NONBLOCK | (options.followSymlink ? 0 : constants.O_NOFOLLOW);
    const handle = await fs.open(path, flags);
    try {
      if (!(await handle.stat()).isFile()) return undefined;
      bytes = await handle.readFile();
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
  if (!options.encode) return bytes;
  return Buffer.concat([Buffer.from(open), escapeXml(bytes), Buffer.from('</pre>')]);
}
