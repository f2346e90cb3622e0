// The cloud the object benchmark measures: either one it starts itself (`cumulo up` as a child
// process on a temp dir, so the server's CPU is its own process's) or an existing Swift/S3
// endpoint, reached with a token and storage URL, v1 auth (/auth/v1.0) or Keystone v3.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const ROOT = resolve(import.meta.dirname, '..', '..')

/** Credentials for both APIs of one cloud. */
export interface Access {
  storageUrl?: string
  token?: string
  s3?: { endpoint: string; accessKey: string; secret: string }
}

/** A `cumulo up` child process. */
export interface OwnCloud extends Access {
  pid: number
  dataDir: string
  /** Stops the cloud (SIGTERM, which also writes a --cpu-prof profile) and removes its data dir. */
  destroy(): Promise<void>
}

/** Options of startOwnCloud. */
export interface OwnCloudOptions {
  replicas: number
  /** Passed to the server as --cpu-prof --cpu-prof-dir DIR. */
  cpuProfDir?: string
  /** Server log level (default warn: a log line per request would be measured too). */
  logLevel?: string
  /**
   * Run the background daemons (replicators, auditor, updaters, expirer) in the server process
   * too. Default off: their passes would be counted as request CPU (Swift runs them as
   * processes of their own, outside the server pids one measures).
   */
  daemons?: boolean
  /** Extra `cumulo up` arguments. */
  args?: string[]
}

const ADMIN_PASSWORD = 'bench-object-admin'

/** Starts `cumulo up` with the ring replica count asked for, then signs in to Swift and S3. */
export async function startOwnCloud(o: OwnCloudOptions): Promise<OwnCloud> {
  let lastErr: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    // A random port offset keeps clear of other clouds (tests) running on this machine.
    const offset = 30000 + Math.floor(Math.random() * 20000)
    const dataDir = mkdtempSync(join(tmpdir(), 'cumulo-bench-object-'))
    try {
      const child = await launch(dataDir, offset, o)
      const stop = async () => {
        if (child.exitCode === null && !child.signalCode) {
          const done = new Promise((r) => child.once('exit', r))
          child.kill('SIGTERM')
          const t = setTimeout(() => child.kill('SIGKILL'), 20_000)
          await done
          clearTimeout(t)
        }
      }
      try {
        const access = await signIn(`http://127.0.0.1:${5000 + offset}/v3`, `http://127.0.0.1:${8080 + offset}`)
        return { ...access, pid: child.pid!, dataDir, async destroy() { await stop(); rmSync(dataDir, { recursive: true, force: true }) } }
      } catch (err) {
        await stop()
        throw err
      }
    } catch (err) {
      rmSync(dataDir, { recursive: true, force: true })
      lastErr = err
    }
  }
  throw lastErr
}

async function launch(dataDir: string, offset: number, o: OwnCloudOptions): Promise<ChildProcess> {
  const nodeArgs = o.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', o.cpuProfDir] : []
  const child = spawn(process.execPath, [...nodeArgs, join(ROOT, 'bin/cumulo.js'), 'up', '--data-dir', dataDir,
    '--port-offset', String(offset), '--set', `object.replicas=${o.replicas}`,
    '--set', `object.daemons=${o.daemons ? 'on' : 'off'}`, ...(o.args ?? [])], {
    env: { ...process.env, CUMULO_LOG_LEVEL: o.logLevel ?? 'warn', CUMULO_ADMIN_PASSWORD: ADMIN_PASSWORD },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d) => { out += d })
  child.stderr!.on('data', (d) => { if (out.length < 1e6) out += d })
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`cumulo up exited ${child.exitCode}:\n${out}`)
    if (out.includes('Cumulo is up.')) return child
    await new Promise((r) => setTimeout(r, 100))
  }
  child.kill('SIGKILL')
  throw new Error(`cumulo up did not start in 60 s:\n${out}`)
}

async function json(r: Response): Promise<any> {
  const text = await r.text()
  if (r.status >= 300) throw new Error(`${r.url}: ${r.status} ${text.slice(0, 300)}`)
  return text ? JSON.parse(text) : {}
}

/** Signs in to our own cloud as admin: a Swift token and storage URL, and an EC2 key pair for S3. */
async function signIn(identityUrl: string, proxyUrl: string): Promise<Access> {
  const v3 = await keystoneV3({ authUrl: identityUrl, user: 'admin', password: ADMIN_PASSWORD, project: 'admin' })
  const cred = await json(await fetch(`${identityUrl}/users/${v3.userId}/credentials/OS-EC2`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-auth-token': v3.token },
    body: JSON.stringify({ tenant_id: v3.projectId }),
  }))
  return {
    storageUrl: `${proxyUrl}/v1/AUTH_${v3.projectId}`, token: v3.token,
    s3: { endpoint: proxyUrl, accessKey: cred.credential.access, secret: cred.credential.secret },
  }
}

/** Keystone v3 password auth, project-scoped; the object-store URL from the catalog when it has one. */
export async function keystoneV3(o: { authUrl: string; user: string; password: string; project: string; domain?: string }):
  Promise<{ token: string; userId: string; projectId: string; storageUrl?: string }> {
  const domain = { id: o.domain ?? 'default' }
  const r = await fetch(`${o.authUrl.replace(/\/$/, '')}/auth/tokens`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ auth: {
      identity: { methods: ['password'], password: { user: { name: o.user, domain, password: o.password } } },
      scope: { project: { name: o.project, domain } },
    } }),
  })
  const token = r.headers.get('x-subject-token') ?? ''
  const body = await json(r)
  const swift = (body.token.catalog ?? []).find((s: { type: string }) => s.type === 'object-store')
  const storageUrl = swift?.endpoints?.find((e: { interface: string }) => e.interface === 'public')?.url
  return { token, userId: body.token.user.id, projectId: body.token.project.id, storageUrl }
}

/** Swift v1 auth (tempauth, Cumulo's /auth/v1.0): `project:user` and key → token and storage URL. */
export async function swiftV1(authUrl: string, user: string, key: string): Promise<{ token: string; storageUrl: string }> {
  const r = await fetch(authUrl, { headers: { 'x-auth-user': user, 'x-auth-key': key } })
  await r.arrayBuffer()
  const token = r.headers.get('x-auth-token')
  const storageUrl = r.headers.get('x-storage-url')
  if (r.status >= 300 || !token || !storageUrl) throw new Error(`v1 auth at ${authUrl}: ${r.status}`)
  return { token, storageUrl }
}
