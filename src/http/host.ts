/**
 * lighttpd's Host policy with its 1.4.69 defaults (`server.http-parseopts` host-strict and
 * host-normalize enabled): what the config's `$HTTP["host"]`, SERVER_NAME and HTTP_HOST see.
 * A later vhost module builds paths from this name, so nothing but letters, digits, `-` and
 * `.` in labels (or a bracketed IPv6 literal) and a numeric port gets through.
 */

/**
 * The canonical form of a Host value (already lower-cased): a trailing dot and the scheme's
 * default port dropped, an IPv6 literal in its compressed form. undefined for a Host lighttpd
 * answers 400 to.
 */
export function normaliseHost(host: string, schemePort: number): string | undefined {
  let name: string;
  let portText: string | undefined;
  if (host[0] === '[') {
    const close = host.indexOf(']');
    if (close < 2) return undefined;
    const literal = host.slice(1, close);
    if (!/^[0-9a-f.:]+$/.test(literal) || literal.split(':').length > 8) return undefined;
    name = ipv6Canonical(literal) ?? '';
    if (!name) return undefined;
    const rest = host.slice(close + 1);
    if (rest !== '' && rest[0] !== ':') return undefined;
    portText = rest ? rest.slice(1) : undefined;
  } else {
    const colon = host.indexOf(':');
    name = colon >= 0 ? host.slice(0, colon) : host;
    portText = colon >= 0 ? host.slice(colon + 1) : undefined;
    if (name.endsWith('.')) name = name.slice(0, -1);
    if (!validHostname(name)) return undefined;
  }
  let port = 0;
  if (portText) {
    if (!/^[0-9]+$/.test(portText)) return undefined;
    // strtol(…, 0) as lighttpd: a leading 0 makes the port octal.
    port = portText.length > 1 && portText[0] === '0' ? Number.parseInt(portText, 8) : Number(portText);
    if (!(port > 0 && port <= 65535) || (portText[0] === '0' && /[89]/.test(portText))) return undefined;
  }
  return port && port !== schemePort ? `${name}:${port}` : name;
}

/**
 * RFC 952/1123 labels (letters, digits, inner `-`), non-empty, no label starting with `-`;
 * a name whose last label is all digits must be a dotted-quad IPv4 address.
 */
function validHostname(name: string): boolean {
  if (name === '') return false;
  const labels = name.split('.');
  for (const label of labels) if (!/^[a-z0-9][a-z0-9-]*$/.test(label)) return false;
  const last = labels[labels.length - 1]!;
  if (/^[0-9]+$/.test(last)) return labels.length === 4 && labels.every((l) => /^[0-9]+$/.test(l));
  return true;
}

function ipv6Canonical(literal: string): string | undefined {
  try {
    return new URL(`http://[${literal}]/`).hostname;
  } catch {
    return undefined;
  }
}
