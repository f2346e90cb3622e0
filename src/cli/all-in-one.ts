import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import YAML from 'yaml'
import { createCore } from '../core/index.ts'
import type { Identity, IdentityConfig } from '../identity/index.ts'
import { bootstrapIdentity, createIdentity, findEc2Credential, registerEndpoints } from '../identity/index.ts'
import { type ObjectStore, type PasswordAuthenticator, createObjectStore } from '../object/index.ts'
import { type Image, createImage } from '../image/index.ts'
import { type Compute, createCompute } from '../compute/index.ts'
import { type ComputeHosts, startComputeHosts } from './compute-hosts.ts'
import { importGuest } from './default-image.ts'

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
  /**
   * Object store: partition power (default 10; tests use less) and replica count (default 3) of
   * the rings made at first start; `daemons: false` runs no background daemons (benchmarks).
   */
  object?: { partPower?: number; replicas?: number; daemons?: boolean }
  /**
   * Compute: the virt driver of the in-process agent (default qemu when qemu-system-x86_64 is
   * installed, else fake) and, for the fake driver, how many hosts to simulate (default 1).
   */
  compute?: { driver?: 'qemu' | 'fake'; fakeHosts?: number }
  logLevel?: string
}

export interface RunningCloud {
  endpoints: Record<string, string>
  adminPassword: string
  adminProjectId: string
  cloudsYaml: string
  /** The virt driver the compute hosts run. */
  computeDriver: 'qemu' | 'fake'
  stop(): Promise<void>
}

/** OpenStack's usual ports (Swift's storage servers: object 6200, container 6201, account 6202). */
export const PORTS = { identity: 5000, image: 9292, compute: 8774, objectStore: 8080, objectServer: 6200, containerServer: 6201, accountServer: 6202 } as const

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

  // Object storage: DATA_DIR/object holds the hash secret, the rings and the devices d1..d3.
  // The storage node runs in this process (the proxy calls it directly) and is also served on
  // its ring ports for proxies elsewhere.
  const ringHost = o.bind === '0.0.0.0' || o.bind === '::' ? '127.0.0.1' : o.bind
  let objectStore: ObjectStore
  try {
    objectStore = await createObjectStore(core, {
      auth: identity.auth, dataDir: join(dataDir, 'object'), host: ringHost, partPower: o.object?.partPower, replicas: o.object?.replicas,
      daemons: o.object?.daemons === false ? false : undefined,
      ports: { object: port(PORTS.objectServer), container: port(PORTS.containerServer), account: port(PORTS.accountServer) },
      authenticate: passwordAuthenticator(identity),
      // S3 on the same port, signed with Keystone's EC2 credentials (`openstack ec2 credentials create`).
      ec2Credentials: (accessKey) => findEc2Credential(identity.ctx.db, accessKey),
      // Containers may sync to other containers of this cloud: //cumulo/local/AUTH_<project>/<container>.
      containerSync: { self: { realm: 'cumulo', cluster: 'local',
        endpoint: `http://${ringHost.includes(':') ? `[${ringHost}]` : ringHost}:${port(PORTS.objectStore)}/v1/` } },
    })
  } catch (err) {
    await identity.close(); await core.db.close()
    throw err
  }
  const objectUrl = `http://${urlHost}:${port(PORTS.objectStore)}/v1/AUTH_$(project_id)s`
  await registerEndpoints(identity.ctx, { type: 'object-store', name: 'swift', url: objectUrl })
  const s3Url = `http://${urlHost}:${port(PORTS.objectStore)}`
  await registerEndpoints(identity.ctx, { type: 's3', name: 's3', url: s3Url })

  // Image service (Glance v2): image data in DATA_DIR/images (a FileImageStore).
  let image: Image
  try {
    image = await createImage(core, { auth: identity.auth, dataDir: join(dataDir, 'images') })
  } catch (err) {
    await objectStore.close(); await identity.close(); await core.db.close()
    throw err
  }
  const imageUrl = `http://${urlHost}:${port(PORTS.image)}`
  await registerEndpoints(identity.ctx, { type: 'image', name: 'glance', url: imageUrl })

  try {
    await identity.api.listen({ host: o.bind, port: port(PORTS.identity) })
    await objectStore.api.listen({ host: o.bind, port: port(PORTS.objectStore) })
    await objectStore.serveBackends(o.bind)
  } catch (err) {
    await objectStore.close(); await identity.close(); await core.db.close()
    throw err
  }

  try {
    await image.api.listen({ host: o.bind, port: port(PORTS.image) })
  } catch (err) {
    await image.close(); await objectStore.close(); await identity.close(); await core.db.close()
    throw err
  }

  // Compute (Nova v2.1): flavors, key pairs, limits and quota sets so far. No flavors are made
  // at first start, as in Nova; admins create them (`openstack flavor create`).
  let compute: Compute
  const computeUrl = `http://${urlHost}:${port(PORTS.compute)}/v2.1`
  try {
    compute = await createCompute(core, { auth: identity.auth, imageUrl })
    await registerEndpoints(identity.ctx, { type: 'compute', name: 'nova', url: computeUrl })
    await compute.api.listen({ host: o.bind, port: port(PORTS.compute) })
  } catch (err) {
    await image.close(); await objectStore.close(); await identity.close(); await core.db.close()
    throw err
  }

  // Compute hosts: the agents (qemu driver when QEMU is installed, else simulated hosts).
  const loop = `http://${ringHost.includes(':') ? `[${ringHost}]` : ringHost}`
  let hosts: ComputeHosts
  try {
    hosts = await startComputeHosts({
      dataDir, identity, log: core.log, driver: o.compute?.driver, fakeHosts: o.compute?.fakeHosts, hostIp: ringHost,
      identityUrl: `${loop}:${port(PORTS.identity)}/v3`, computeUrl: `${loop}:${port(PORTS.compute)}`, imageUrl: `${loop}:${port(PORTS.image)}`,
    })
    await importGuest({ dataDir, identityUrl: `${loop}:${port(PORTS.identity)}/v3`, imageUrl: `${loop}:${port(PORTS.image)}`,
      computeUrl: `${loop}:${port(PORTS.compute)}/v2.1`, adminPassword, log: core.log })
  } catch (err) {
    await compute.close(); await image.close(); await objectStore.close(); await identity.close(); await core.db.close()
    throw err
  }

  writeCloudsYaml(cloudsPath, { authUrl: identityUrl, password: adminPassword })
  const endpoints = { identity: identityUrl, image: imageUrl, compute: computeUrl, 'object-store': objectUrl, s3: s3Url }
  core.log.info({ endpoints }, 'cumulo is up')
  return {
    endpoints, adminPassword, adminProjectId: boot.adminProjectId, cloudsYaml: cloudsPath, computeDriver: hosts.driver,
    async stop() {
      await hosts.stop()
      await compute.close()
      await image.close()
      await objectStore.close()
      await identity.close()
      await core.db.close()
    },
  }
}

/** Swift v1 auth (`/auth/v1.0`): project and user names in the Default domain, password → project token. */
function passwordAuthenticator(identity: Identity): PasswordAuthenticator {
  return async (project, user, password) => {
    try {
      const issued = await identity.auth.authenticate({
        identity: { methods: ['password'], password: { user: { name: user, domain: { id: 'default' }, password } } },
        scope: { project: { name: project, domain: { id: 'default' } } },
      })
      return issued.payload.projectId ? { token: issued.id, projectId: issued.payload.projectId } : null
    } catch {
      return null // wrong credentials, disabled or locked user, unknown project: all a 401
    }
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
