/** lighttpd's server.max-request-field-size default: the request line plus headers, in bytes. */
export const DEFAULT_MAX_REQUEST_FIELD_SIZE = 8192;
