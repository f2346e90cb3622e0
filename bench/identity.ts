// bench/identity: tokens validated and issued per second, at concurrency 1 and 16.
//   node --import tsx bench/identity.ts [--seconds 5] [--url http://host:5000/v3 --password P]
// Without --url it starts `cumulo up` in a child process on a temp dir (the server gets its
// own process; this process is the load generator). Prints one JSON document.
import { parseArgs } from 'node:util'
import { type CloudProcess, startCloudProcess } from '../test/support/cloud-process.ts'
import { load } from './http-load.ts'
import { identityHarness } from '../src/identity/testing.ts'

const { values } = parseArgs({ options: {
  seconds: { type: 'string', default: '5' },
  url: { type: 'string' },
  password: { type: 'string' },
} })
const seconds = Number(values.seconds)
let cloud: CloudProcess | undefined
const adminPassword = values.password ?? 'bench-admin-password'
if (!values.url) cloud = await startCloudProcess({ portOffset: 24000, adminPassword })
const base = (values.url ?? cloud!.identityUrl).replace(/\/v3\/?$/, '')

async function call(method: string, path: string, body?: unknown, token?: string) {
  const r = await fetch(base + path, { method, headers: { 'content-type': 'application/json', ...(token ? { 'x-auth-token': token } : {}) },
    body: body ? JSON.stringify(body) : undefined })
  const text = await r.text()
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${text}`)
  return { token: r.headers.get('x-subject-token') ?? '', body: text ? JSON.parse(text) : {} }
}
const pwAuth = (name: string, password: string, project: string) => ({ auth: {
  identity: { methods: ['password'], password: { user: { name, password, domain: { id: 'default' } } } },
  scope: { project: { name: project, domain: { id: 'default' } } } } })

try {
  const admin = await call('POST', '/v3/auth/tokens', pwAuth('admin', adminPassword, 'admin'))
  // A user with an application credential, to issue tokens both ways.
  const suffix = Date.now().toString(36)
  const proj = (await call('POST', '/v3/projects', { project: { name: `bench-${suffix}`, domain_id: 'default' } }, admin.token)).body.project
  const user = (await call('POST', '/v3/users', { user: { name: `bench-${suffix}`, password: 'bench-pw', domain_id: 'default' } }, admin.token)).body.user
  const roles = (await call('GET', '/v3/roles?name=member', undefined, admin.token)).body.roles
  await call('PUT', `/v3/projects/${proj.id}/users/${user.id}/roles/${roles[0].id}`, undefined, admin.token)
  const userTok = await call('POST', '/v3/auth/tokens', pwAuth(user.name, 'bench-pw', proj.name))
  const ac = (await call('POST', `/v3/users/${user.id}/application_credentials`, { application_credential: { name: 'bench' } }, userTok.token)).body.application_credential

  const results: Record<string, unknown> = {}
  for (const c of [1, 16]) {
    // Validation as a service's middleware asks for it: GET /v3/auth/tokens, no catalog.
    results[`validate_nocatalog_c${c}`] = await load({ url: base, concurrency: c, seconds, make: () => ({
      method: 'GET', path: '/v3/auth/tokens?nocatalog', headers: { 'x-auth-token': admin.token, 'x-subject-token': userTok.token } }) })
    results[`validate_catalog_c${c}`] = await load({ url: base, concurrency: c, seconds, make: () => ({
      method: 'GET', path: '/v3/auth/tokens', headers: { 'x-auth-token': admin.token, 'x-subject-token': userTok.token } }) })
    results[`issue_password_c${c}`] = await load({ url: base, concurrency: c, seconds, expect: 201, make: () => ({
      method: 'POST', path: '/v3/auth/tokens', body: JSON.stringify(pwAuth(user.name, 'bench-pw', proj.name)) }) })
    results[`issue_appcred_c${c}`] = await load({ url: base, concurrency: c, seconds, expect: 201, make: () => ({
      method: 'POST', path: '/v3/auth/tokens', body: JSON.stringify({ auth: { identity: { methods: ['application_credential'],
        application_credential: { id: ac.id, secret: ac.secret } } } }) }) })
  }
  results.in_process = await inProcess(seconds)
  process.stdout.write(JSON.stringify({ bench: 'identity', seconds, node: process.version, results }, null, 1) + '\n')
} finally {
  await cloud?.destroy()
}

/**
 * The middleware path other services use in all-in-one mode: AuthService.validate() in this
 * process (in-memory SQLite). `cached` is the steady state; `uncached` forces a re-render from
 * the database before every call (what happens after any identity write).
 */
async function inProcess(secs: number) {
  const h = await identityHarness()
  const auth = h.identity.auth
  const out: Record<string, unknown> = {}
  for (const c of [1, 16]) {
    for (const mode of ['cached', 'uncached'] as const) {
      let n = 0
      const end = performance.now() + secs * 1000
      const t0 = performance.now()
      await Promise.all(Array.from({ length: c }, async () => {
        while (performance.now() < end) {
          if (mode === 'uncached') h.identity.ctx.changed()
          await auth.validate(h.adminToken)
          n++
        }
      }))
      out[`validate_${mode}_c${c}`] = { validations: n, perSecond: Math.round(n / ((performance.now() - t0) / 1000)) }
    }
  }
  await h.close()
  return out
}
