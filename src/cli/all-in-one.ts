import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import YAML from 'yaml'
import { createCore } from '../core/index.ts'
import type { IdentityConfig } from '../identity/index.ts'
import { bootstrapIdentity, createIdentity, registerEndpoints } from '../identity/index.ts'

/** Everything `cumulo up` needs to know. */
export interface AllInOneOptions {
  dataDir: string
  bind: string
  /** Host name or address put in the catalog (defaults to the bind address, or 127.0.0.1 for 0.0.0.0). */
  publicHost?: string
  /** postgres:// URL; default: SQLite files under DATA_DIR/db. */
  database?: string
  /** Added to every service's standard port (5000, 8774, …), to run several clouds on one host. */
  portOffset?: number
  adminPassword?: string
  identity?: Partial<IdentityConfig>
  logLevel?: string
}

export interface RunningCloud {
  endpoints: Record<string, string>
  adminPassword: string
  adminProjectId: string
  cloudsYaml: string
  stop(): Promise<void>
}

/** OpenStack's usual ports. */
export const PORTS = { identity: 5000 } as const

/** Starts the all-in-one cloud in this process: every service, on one database. */
export async function startAllInOne(o: AllInOneOptions): Promise<RunningCloud> {
  const dataDir = resolve(o.dataDir)
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const core = createCore({ database: o.database ?? `sqlite:${join(dataDir, 'db')}`, logLevel: o.logLevel })
  const host = o.publicHost ?? (o.bind === '0.0.0.0' || o.bind === '::' ? '127.0.0.1' : o.bind)
  const urlHost = host.includes(':') ? `[${host}]` : host
  const port = (p: number) => p + (o.portOffset ?? 0)

  const identity = await createIdentity(core, { keyDir: join(dataDir, 'keys', 'token'), config: o.identity })
  const cloudsPath = join(dataDir, 'clouds.yaml')
  const previous = previousAdminPassword(cloudsPath)
  const adminPassword = o.adminPassword ?? previous ?? randomBytes(18).toString('base64url')
  // Like `keystone-manage bootstrap`: a password given on a later start resets the admin's.
  const boot = await bootstrapIdentity(identity.ctx, { adminPassword, resetPassword: !!o.adminPassword && o.adminPassword !== previous })
  const identityUrl = `http://${urlHost}:${port(PORTS.identity)}/v3`
  await registerEndpoints(identity.ctx, { type: 'identity', name: 'keystone', url: identityUrl })

  const servers = [identity.api]
  try {
    await identity.api.listen({ host: o.bind, port: port(PORTS.identity) })
  } catch (err) {
    await identity.close(); await core.db.close()
    throw err
  }

  writeCloudsYaml(cloudsPath, { authUrl: identityUrl, password: adminPassword })
  const endpoints = { identity: identityUrl }
  core.log.info({ endpoints }, 'cumulo is up')
  return {
    endpoints, adminPassword, adminProjectId: boot.adminProjectId, cloudsYaml: cloudsPath,
    async stop() {
      for (const s of servers) await s.close()
      await identity.close()
      await core.db.close()
    },
  }
}

function previousAdminPassword(path: string): string | undefined {
  if (!existsSync(path)) return undefined
  try {
    const doc = YAML.parse(readFileSync(path, 'utf8'))
    return doc?.clouds?.cumulo?.auth?.password
  } catch { return undefined }
}

/** DATA_DIR/clouds.yaml with a cloud named `cumulo` holding the admin credentials. */
function writeCloudsYaml(path: string, o: { authUrl: string; password: string }): void {
  const doc = {
    clouds: {
      cumulo: {
        auth: {
          auth_url: o.authUrl, username: 'admin', password: o.password, project_name: 'admin',
          user_domain_name: 'Default', project_domain_name: 'Default',
        },
        region_name: 'RegionOne',
        interface: 'public',
        identity_api_version: 3,
      },
    },
  }
  writeFileSync(path, YAML.stringify(doc), { mode: 0o600 })
}
