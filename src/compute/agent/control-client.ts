import { CloudError } from '../../core/errors.ts'
import type { FlavorSnapshot, PendingOp } from '../instances.ts'
import type { DesiredPower } from '../instances.ts'
import type { PowerStateName } from '../virt/driver.ts'

// The agent's side of the agent API (docs/compute.md "Agent API", under /cumulo-agent/v1 on the
// compute API port): register/heartbeat, the long-poll watch of the host's servers, and
// reports. Every call carries the agent's own Keystone token; a 401 renews it once.

/** Gives the agent's Keystone token; `renew` asks for a fresh one (the last was refused). */
export type TokenProvider = (opts?: { renew?: boolean }) => Promise<string>

/** One server assigned to this host, as the watch lists it. */
export interface AgentInstance {
  uuid: string; name: string; hostname: string; project_id: string; user_id: string
  desired_power: DesiredPower; desired_gen: number; applied_gen: number
  pending_op: PendingOp | null
  vm_state: string; task_state: string | null
  flavor: FlavorSnapshot
  image_ref: string
  image: { id: string; disk_format: string | null; container_format: string | null; checksum: string | null; size: number | null } | null
  key_name: string | null; key_data: string | null; user_data: string | null
  metadata: Record<string, string>
  availability_zone: string; launch_index: number; reservation_id: string
  nics: Array<{ mac: string; mode: 'user' }>
  created_at: string
}

/** The register/heartbeat body. */
export interface RegisterBody {
  hypervisor_type: string; hypervisor_version: number; vcpus: number; memory_mb: number; local_gb: number
  host_ip: string; agent_url: string; zone?: string
}

/** A report on one server. `gen` is the desired generation acted on. */
export interface ReportBody {
  host: string; gen: number; power_state: PowerStateName
  op?: { id: string; result: 'ok' | 'error'; message?: string }
  fault?: { message: string; details?: string; reschedule?: boolean }
  addresses?: Record<string, unknown>
  deleted?: true
  launched?: true
}

/** The watch's answer. */
export interface WatchAnswer { revision: number; instances: AgentInstance[] }

/** How a report fared: accepted, or refused because the server is not (any more) on this host. */
export type ReportOutcome = 'accepted' | 'not-on-host' | 'gone'

/** HTTP client of the agent API for one host. */
export class ControlClient {
  readonly #base: string
  constructor(baseUrl: string, private readonly host: string, private readonly token: TokenProvider) {
    this.#base = `${baseUrl.replace(/\/+$/, '')}/cumulo-agent/v1`
  }

  /** Registers the host (creates service, node, provider) or heartbeats it. */
  async register(body: RegisterBody, signal?: AbortSignal): Promise<{ compute_node: { uuid: string }; revision: number }> {
    const r = await this.#call('PUT', `/hosts/${encodeURIComponent(this.host)}`, body, signal)
    await expectOk(r, 'register')
    return await r.json() as { compute_node: { uuid: string }; revision: number }
  }

  /**
   * Long-polls the host's servers: answers when the revision passes `since`, or after `waitS`
   * seconds; without `since` it answers at once (the agent's first look).
   */
  async watch(since: number | undefined, waitS: number, signal?: AbortSignal): Promise<WatchAnswer> {
    const q = since === undefined ? '' : `since=${since}&wait=${waitS}`
    const r = await this.#call('GET', `/hosts/${encodeURIComponent(this.host)}/instances${q ? `?${q}` : ''}`, undefined, signal)
    await expectOk(r, 'watch')
    return await r.json() as WatchAnswer
  }

  /** Reports on a server; 409 (not on this host) and 404 (gone) are outcomes, not errors. */
  async report(uuid: string, body: ReportBody, signal?: AbortSignal): Promise<ReportOutcome> {
    const r = await this.#call('POST', `/instances/${encodeURIComponent(uuid)}/report`, body, signal)
    if (r.status === 409) { await r.text().catch(() => ''); return 'not-on-host' }
    if (r.status === 404) { await r.text().catch(() => ''); return 'gone' }
    await expectOk(r, `report on ${uuid}`)
    await r.text().catch(() => '')
    return 'accepted'
  }

  async #call(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<Response> {
    const send = async (token: string) => fetch(`${this.#base}${path}`, {
      method, signal,
      headers: { 'x-auth-token': token, accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const r = await send(await this.token())
    if (r.status !== 401) return r
    await r.text().catch(() => '')
    return send(await this.token({ renew: true }))
  }
}

async function expectOk(r: Response, what: string): Promise<void> {
  if (r.ok) return
  const text = await r.text().catch(() => '')
  throw new CloudError(r.status === 401 ? 'Unauthorized' : r.status === 403 ? 'Forbidden' : 'Unavailable',
    `The compute API answered ${r.status} to ${what}: ${text.slice(0, 300)}`)
}

/**
 * A TokenProvider that logs in to Keystone with a password (project-scoped) and keeps the
 * token until shortly before it expires or until it is refused.
 */
export function passwordTokenProvider(o: {
  identityUrl: string; userName: string; password: string; userDomain?: string
  projectName: string; projectDomain?: string
}): TokenProvider {
  let cached: { token: string; expiresAt: number } | undefined
  let inFlight: Promise<string> | undefined
  const login = async (): Promise<string> => {
    const r = await fetch(`${identityBase(o.identityUrl)}/v3/auth/tokens`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ auth: {
        identity: { methods: ['password'], password: { user: { name: o.userName, password: o.password, domain: { id: o.userDomain ?? 'default' } } } },
        scope: { project: { name: o.projectName, domain: { id: o.projectDomain ?? 'default' } } },
      } }),
    })
    if (r.status !== 201) {
      const t = await r.text().catch(() => '')
      throw new CloudError('Unauthorized', `Keystone refused the agent's login (${r.status}): ${t.slice(0, 200)}`)
    }
    const token = r.headers.get('x-subject-token') ?? ''
    const body = await r.json() as { token: { expires_at: string } }
    cached = { token, expiresAt: Date.parse(body.token.expires_at) }
    return token
  }
  return async (opts = {}) => {
    // Renew a minute early so a long-poll never starts with a token about to expire.
    if (!opts.renew && cached && cached.expiresAt - Date.now() > 60_000) return cached.token
    inFlight ??= login().finally(() => { inFlight = undefined })
    return inFlight
  }
}

/** Keystone's base URL without a trailing `/v3`. */
export function identityBase(url: string): string {
  return url.replace(/\/+$/, '').replace(/\/v3$/, '')
}
