import { type Server, createServer } from 'node:http'
import { rm } from 'node:fs/promises'
import type { Logger } from '../../core/log.ts'
import { type MetadataInstance, type MetadataOptions, metadataAnswer } from '../metadata.ts'

// One metadata HTTP server per instance, each on its own Unix socket in the instance's
// directory. QEMU's guestfwd hands every guest connection to 169.254.169.254:80 to that
// instance's socket, so the socket a request arrives on *is* the caller's identity: a guest can
// read only its own metadata, with no source-address checks to get wrong.

/** The longest path a Unix socket may have on Linux (sun_path is 108 bytes with the NUL). */
export const MAX_SOCKET_PATH = 107

interface Entry { server: Server; path: string; inst: MetadataInstance }

/** The per-instance metadata servers of one agent. */
export class MetadataServers {
  readonly #servers = new Map<string, Entry>()

  constructor(private readonly log: Logger, private readonly opts: MetadataOptions = {}) {}

  /**
   * Serves `inst`'s metadata on `socketPath` (idempotent; a running server just gets the new
   * facts, e.g. changed metadata items).
   */
  async ensure(inst: MetadataInstance, socketPath: string): Promise<void> {
    const have = this.#servers.get(inst.uuid)
    if (have && have.path === socketPath) { have.inst = inst; return }
    if (have) await this.stop(inst.uuid)
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
      throw new Error(`The metadata socket path ${socketPath} is longer than ${MAX_SOCKET_PATH} bytes; use a shorter data directory.`)
    }
    const entry: Entry = { server: undefined as unknown as Server, path: socketPath, inst }
    entry.server = createServer((req, res) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { 'content-type': 'text/plain; charset=UTF-8', allow: 'GET, HEAD' }).end('Method Not Allowed')
        return
      }
      const a = metadataAnswer(entry.inst, req.url ?? '/', this.opts)
      res.writeHead(a.status, { 'content-type': a.contentType, 'content-length': Buffer.byteLength(a.body) })
      res.end(req.method === 'HEAD' ? undefined : a.body)
    })
    // A socket file left by a previous run of the agent would make listen() fail with EADDRINUSE.
    await rm(socketPath, { force: true })
    await new Promise<void>((resolve, reject) => {
      entry.server.once('error', reject)
      entry.server.listen(socketPath, () => { entry.server.off('error', reject); resolve() })
    })
    entry.server.on('error', (e) => this.log.warn({ err: e, uuid: inst.uuid }, 'metadata server error'))
    this.#servers.set(inst.uuid, entry)
  }

  /** Whether `uuid` has a running server. */
  has(uuid: string): boolean { return this.#servers.has(uuid) }

  /** Stops `uuid`'s server and removes its socket; unknown ids are a no-op. */
  async stop(uuid: string): Promise<void> {
    const e = this.#servers.get(uuid)
    if (!e) return
    this.#servers.delete(uuid)
    await closeServer(e.server)
    await rm(e.path, { force: true })
  }

  /** Stops every server (agent shutdown; the guests keep running). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#servers.keys()].map((u) => this.stop(u)))
  }
}

/** Closes an HTTP server, dropping idle keep-alive connections so close() does not hang. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}
