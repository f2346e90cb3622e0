import { readFile } from 'node:fs/promises'
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { CloudError, asCloudError, statusTitle } from '../../core/errors.ts'
import type { Logger } from '../../core/log.ts'
import type { VirtDriver } from '../virt/driver.ts'
import { type TokenProvider, identityBase } from './control-client.ts'
import { closeServer } from './metadata-server.ts'

// The agent's own HTTP endpoint for synchronous questions (docs/compute.md): today the serial
// console. The controller forwards the caller's token; the agent checks it with Keystone itself
// rather than trusting whoever can reach the port: admin and service tokens see every
// console, other tokens only those of servers in their project.

/** The most console output one answer carries (Nova caps it too). */
export const CONSOLE_CAP = 1024 * 1024
/** How long a token's validation is reused. */
const TOKEN_CACHE_MS = 10_000

/** What the console endpoint needs from the agent. */
export interface ConsoleServerOptions {
  driver: VirtDriver
  /** The project of a server this host runs (from the watch list), or undefined. */
  projectOf(uuid: string): string | undefined
  identityUrl: string
  /** The agent's own token, to validate callers' tokens with. */
  token: TokenProvider
  log: Logger
}

interface Caller { roles: string[]; projectId?: string; expiresAt: number }

/** The console endpoint: GET /instances/{uuid}/console?length=N → {"output": …}. */
export class ConsoleServer {
  readonly #server: Server
  readonly #tokens = new Map<string, { caller: Caller | null; until: number }>()
  #url = ''

  constructor(private readonly o: ConsoleServerOptions) {
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((e) => this.#fail(res, e))
    })
  }

  /** The base URL it listens on (the `agent_url` to register). */
  get url(): string { return this.#url }

  /** Listens on `host:port` (port 0 picks a free one). */
  async listen(host: string, port: number): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(port, host, () => { this.#server.off('error', reject); resolve() })
    })
    const a = this.#server.address() as AddressInfo
    this.#url = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`
    return this.#url
  }

  async close(): Promise<void> { await closeServer(this.#server) }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://agent')
    if (url.pathname === '/uptime') return this.#uptime(req, res)
    const m = /^\/instances\/([^/]+)\/console\/?$/.exec(url.pathname)
    if (!m) throw new CloudError('NotFound', 'The resource could not be found.')
    if (req.method !== 'GET') throw new CloudError('MethodNotAllowed', 'Only GET is allowed here.')
    const uuid = decodeURIComponent(m[1]!)
    const token = req.headers['x-auth-token']
    if (typeof token !== 'string' || token === '') throw new CloudError('Unauthorized', 'The request you have made requires authentication.')
    const caller = await this.#validate(token)
    if (!caller) throw new CloudError('Unauthorized', 'The request you have made requires authentication.')
    const project = this.o.projectOf(uuid)
    const privileged = caller.roles.includes('admin') || caller.roles.includes('service')
    // An unprivileged caller learns nothing about servers outside its project, not even existence.
    if (project === undefined) throw new CloudError('NotFound', `Instance ${uuid} could not be found.`)
    if (!privileged && caller.projectId !== project) throw new CloudError('Forbidden', 'Policy does not allow this console to be read.')
    const length = parseLength(url.searchParams.get('length'))
    const all = await this.o.driver.consoleOutput(uuid, CONSOLE_CAP)
    send(res, 200, { output: length === undefined ? all : tailLines(all, length) })
  }

  /**
   * GET /uptime (admin or service tokens): the host's uptime in the `uptime` command's format,
   * which Nova's os-hypervisors/{id}/uptime shows — from /proc/uptime and /proc/loadavg.
   */
  async #uptime(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET') throw new CloudError('MethodNotAllowed', 'Only GET is allowed here.')
    const token = req.headers['x-auth-token']
    const caller = typeof token === 'string' && token ? await this.#validate(token) : null
    if (!caller) throw new CloudError('Unauthorized', 'The request you have made requires authentication.')
    if (!caller.roles.includes('admin') && !caller.roles.includes('service')) throw new CloudError('Forbidden', 'Only admins may read the host uptime.')
    send(res, 200, { uptime: await hostUptime() })
  }

  /** The caller behind `token` (null when Keystone says it is not valid), cached for 10 s. */
  async #validate(token: string): Promise<Caller | null> {
    const now = Date.now()
    const hit = this.#tokens.get(token)
    if (hit && hit.until > now) return hit.caller && hit.caller.expiresAt > now ? hit.caller : null
    const ask = async (mine: string) => fetch(`${identityBase(this.o.identityUrl)}/v3/auth/tokens`, {
      headers: { 'x-auth-token': mine, 'x-subject-token': token },
    })
    let r = await ask(await this.o.token())
    if (r.status === 401) {
      // Keystone answers 401 for our own expired token and 404 for the caller's bad one.
      await r.text().catch(() => '')
      r = await ask(await this.o.token({ renew: true }))
    }
    let caller: Caller | null = null
    if (r.ok) {
      const b = await r.json() as { token: { roles?: Array<{ name: string }>; project?: { id: string }; expires_at?: string } }
      caller = { roles: (b.token.roles ?? []).map((x) => x.name), projectId: b.token.project?.id,
        expiresAt: b.token.expires_at ? Date.parse(b.token.expires_at) : Infinity }
    } else if (r.status === 404 || r.status === 401) {
      await r.text().catch(() => '')
    } else {
      throw new CloudError('Unavailable', `Keystone answered ${r.status} when validating a token.`)
    }
    if (this.#tokens.size > 1000) this.#tokens.clear()
    this.#tokens.set(token, { caller, until: now + TOKEN_CACHE_MS })
    return caller
  }

  #fail(res: ServerResponse, e: unknown): void {
    const err = asCloudError(e)
    if (err.status >= 500) this.o.log.error({ err: e }, 'console endpoint failed')
    const title = statusTitle(err.status).replace(/\s+(\w)/g, (_m, c: string) => c.toUpperCase())
    const key = title.charAt(0).toLowerCase() + title.slice(1)
    send(res, err.status, { [key]: { code: err.status, message: err.message } })
  }
}

/** `length`: absent or -1 → everything; otherwise a count of lines (Nova's meaning). */
function parseLength(v: string | null): number | undefined {
  if (v === null || v === '' || v === '-1') return undefined
  if (!/^\d+$/.test(v)) throw new CloudError('BadRequest', `Invalid length: ${v}. It must be an integer >= -1.`)
  return Number(v)
}

/**
 * The last `n` lines of `s` as Nova's _tail_log counts them (split at newlines, so the empty
 * piece after a final newline is one of them); 0 → ''.
 */
export function tailLines(s: string, n: number): string {
  return n === 0 ? '' : s.split('\n').slice(-n).join('\n')
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text)
}

/** `uptime`'s line: " 08:32:11 up 3 days,  4:05,  0 users,  load average: 0.20, 0.12, 0.14". */
export async function hostUptime(now = new Date()): Promise<string> {
  const up = Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0])
  const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(', ')
  const days = Math.floor(up / 86400)
  const hours = Math.floor((up % 86400) / 3600)
  const minutes = Math.floor((up % 3600) / 60)
  const clock = now.toTimeString().slice(0, 8)
  const span = `${days ? `${days} day${days === 1 ? '' : 's'}, ` : ''}${String(hours).padStart(2)}:${String(minutes).padStart(2, '0')}`
  return ` ${clock} up ${span},  0 users,  load average: ${load}`
}
