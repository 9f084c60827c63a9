export { StoreDeadlineExceeded, withDeadline } from './deadline.js';
export { type FileStore, type FileStoreOptions, fileStore } from './file.js';
export { type MemcachedStoreOptions, memcachedStore } from './memcached.js';
export { type MemcachedAddress, parseMemcachedServer } from './memcached-servers.js';
export { type MemoryStore, type MemoryStoreOptions, memoryStore } from './memory.js';
export { OutageLog } from './outage-log.js';
export { decodeTime, encodeTime } from './time-value.js';
export type { TriggerStore } from './types.js';
