// The backend protocol's types, declared exactly as docs/object-storage.md gives them.
// backend.ts (written by another engineer at the same time) is the owner; the account and
// container servers import these until it lands. TypeScript compares structurally, so handlers
// typed with these are BackendHandlers of backend.ts as well.
import type { Readable } from 'node:stream'

/** One request to a storage server: `METHOD /<device>/<partition>/<account>[/<container>[/<object>]]`. */
export interface BackendRequest { method: string; path: string; query: URLSearchParams; headers: Record<string, string>; body?: Readable }
/** A storage server's answer, with Swift's status codes. */
export interface BackendResponse { status: number; headers: Record<string, string>; body?: Readable | Buffer }
/** A storage server, callable in-process or through serveBackend over HTTP. */
export type BackendHandler = (req: BackendRequest) => Promise<BackendResponse>
