// bench/compute: the compute control plane's speed.
//
//   node --import tsx bench/compute.ts [--hosts 1000] [--servers 10000] [--concurrency 16]
//        [--list-samples 50] [--qemu on|off] [--cpu-prof DIR] [--database postgres://…]
//
// 1. `cumulo up --set compute.driver=fake --set compute.fake_hosts=H` in a child process (temp
//    data dir): H fake hosts, each with its own agent watching the control plane over HTTP.
//    Creates S servers through the API (closed loop, C at a time), and reports the time until
//    every one was accepted (202), placed on a host, and reported ACTIVE by its agent; then checks
//    no hypervisor is over-committed (placement's capacity, from os-hypervisors/detail).
// 2. `GET /servers/detail` latency with those S servers (the default page of 1,000, and
//    `limit=100`), p50/p99 over N sequential calls.
// 3. With --qemu on (default when qemu-system-x86_64 and the test guest are there): the control
//    plane's time added to one real boot — POST /servers → ACTIVE through the API, minus the
//    qemu driver's own spawn of the same image on the same machine (image already cached).
// Prints one JSON document.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { QemuDriver } from '../src/compute/virt/qemu.ts'

const ROOT = resolve(import.meta.dirname, '..')
const GUEST = join(tmpdir(), 'cumulo-test-guest', 'disk.qcow2')
const PASSWORD = 'bench-compute-admin'

const { values } = parseArgs({ options: {
  hosts: { type: 'string', default: '1000' },
  servers: { type: 'string', default: '10000' },
  concurrency: { type: 'string', default: '16' },
  'list-samples': { type: 'string', default: '50' },
  qemu: { type: 'string' },
  /** Runs the scale cloud's `cumulo up` with --cpu-prof into DIR (written when it stops). */
  'cpu-prof': { type: 'string' },
  /** The scale cloud's database (default: SQLite in its data dir). */
  database: { type: 'string' },
  help: { type: 'boolean' },
} })
if (values.help) {
  process.stdout.write('node --import tsx bench/compute.ts [--hosts 1000] [--servers 10000] [--concurrency 16] [--list-samples 50] [--qemu on|off] [--cpu-prof DIR] [--database URL]\n')
  process.exit(0)
}
const HOSTS = Number(values.hosts)
const SERVERS = Number(values.servers)
const CONC = Number(values.concurrency)
const SAMPLES = Number(values['list-samples'])
const hasQemu = (() => { try { execFileSync('sh', ['-c', 'command -v qemu-system-x86_64']); return existsSync(GUEST) } catch { return false } })()
const QEMU = values.qemu ? values.qemu === 'on' : hasQemu

interface Cloud { offset: number; token: string; projectId: string; dataDir: string; pid: number; stop(): Promise<void> }

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })

/** One JSON request on keep-alive HTTP. */
function call(url: string, method: string, token: string, body?: unknown, headers: Record<string, string> = {}):
  Promise<{ status: number; body: any; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolvePromise, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body)
    const req = http.request(url, { method, agent, headers: {
      'x-auth-token': token, ...(payload !== undefined ? { 'content-type': typeof body === 'object' && !Buffer.isBuffer(body) ? 'application/json' : 'application/octet-stream' } : {}),
      ...headers } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString()
        let parsed: any = text
        try { parsed = text ? JSON.parse(text) : {} } catch { /* not JSON */ }
        resolvePromise({ status: res.statusCode ?? 0, body: parsed, headers: res.headers })
      })
    })
    req.on('error', reject)
    req.end(payload)
  })
}

async function must(p: ReturnType<typeof call>, what: string) {
  const r = await p
  if (r.status >= 300) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`)
  return r
}

/** `cumulo up` as a child process with the given compute options. */
async function startCloud(args: string[], nodeArgs: string[] = []): Promise<Cloud> {
  const offset = 33000 + Math.floor(Math.random() * 15000)
  const dataDir = mkdtempSync(join(tmpdir(), 'cumulo-bench-compute-'))
  const child = spawn(process.execPath, [...nodeArgs, join(ROOT, 'bin/cumulo.js'), 'up', '--data-dir', dataDir, '--port-offset', String(offset),
    '--set', 'object.daemons=off', ...args], {
    env: { ...process.env, CUMULO_LOG_LEVEL: 'warn', CUMULO_ADMIN_PASSWORD: PASSWORD }, stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d) => { out += d })
  child.stderr!.on('data', (d) => { if (out.length < 1e6) out += d })
  const deadline = Date.now() + 120_000
  while (!out.includes('Cumulo is up.')) {
    if (child.exitCode !== null || Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`cumulo up failed:\n${out}`) }
    await new Promise((r) => setTimeout(r, 100))
  }
  const auth = await fetch(`http://127.0.0.1:${5000 + offset}/v3/auth/tokens`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password: PASSWORD } } },
      scope: { project: { name: 'admin', domain: { id: 'default' } } } } }),
  })
  const token = auth.headers.get('x-subject-token')!
  const projectId = (await auth.json() as any).token.project.id
  return {
    offset, token, projectId, dataDir, pid: child.pid!,
    async stop() {
      if (child.exitCode === null) {
        const done = new Promise((r) => child.once('exit', r))
        child.kill('SIGTERM')
        const t = setTimeout(() => child.kill('SIGKILL'), 20_000)
        await done
        clearTimeout(t)
      }
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

const nova = (c: Cloud) => `http://127.0.0.1:${8774 + c.offset}/v2.1`
const glance = (c: Cloud) => `http://127.0.0.1:${9292 + c.offset}`

/** An active image with `data` and a flavor; quotas lifted for the admin project. */
async function prepare(c: Cloud, data: Buffer, flavor: { vcpus: number; ram: number; disk: number }): Promise<{ image: string; flavor: string }> {
  await must(call(`${nova(c)}/os-quota-sets/${c.projectId}`, 'PUT', c.token, { quota_set: { instances: -1, cores: -1, ram: -1 } }), 'quota')
  const f = await must(call(`${nova(c)}/flavors`, 'POST', c.token, { flavor: { name: 'bench', ...flavor } }), 'flavor')
  const img = await must(call(`${glance(c)}/v2/images`, 'POST', c.token, { name: 'bench', disk_format: 'qcow2', container_format: 'bare', visibility: 'public' }), 'image')
  await must(call(`${glance(c)}/v2/images/${img.body.id}/file`, 'PUT', c.token, data), 'upload')
  return { image: img.body.id, flavor: f.body.flavor.id }
}

/** How many servers have each status, from /servers/detail pages (cheaper than one GET each). */
async function detailCounts(c: Cloud): Promise<Record<string, number>> {
  const counts: Record<string, number> = {}
  let url: string | undefined = `${nova(c)}/servers/detail?limit=1000`
  while (url) {
    const r = await must(call(url, 'GET', c.token), 'detail')
    for (const s of r.body.servers) counts[s.status] = (counts[s.status] ?? 0) + 1
    url = r.body.servers_links?.find((l: any) => l.rel === 'next')?.href
  }
  return counts
}

const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]! }
const r1 = (x: number) => Math.round(x * 10) / 10

async function scale(): Promise<Record<string, unknown>> {
  const c = await startCloud(['--set', 'compute.driver=fake', '--set', `compute.fake_hosts=${HOSTS}`,
    ...(values.database ? ['--database', values.database] : [])],
  values['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', resolve(values['cpu-prof'])] : [])
  try {
    // Every fake host registers itself: wait for all of them.
    const t0 = performance.now()
    for (;;) {
      const r = await must(call(`${nova(c)}/os-hypervisors`, 'GET', c.token), 'hypervisors')
      if (r.body.hypervisors.length >= HOSTS) break
      if (performance.now() - t0 > 120_000) throw new Error(`only ${r.body.hypervisors.length} of ${HOSTS} hosts registered`)
      await new Promise((r) => setTimeout(r, 500))
    }
    const hostsUpS = (performance.now() - t0) / 1000
    const { image, flavor } = await prepare(c, Buffer.from('bench image bytes'), { vcpus: 1, ram: 64, disk: 1 })

    const start = performance.now()
    let next = 0, failed = 0
    const createLat: number[] = []
    await Promise.all(Array.from({ length: CONC }, async () => {
      while (next < SERVERS) {
        const i = next++
        const t = performance.now()
        const r = await call(`${nova(c)}/servers`, 'POST', c.token, { server: { name: `b${i}`, imageRef: image, flavorRef: flavor, networks: 'none' } },
          { 'openstack-api-version': 'compute 2.37' })
        createLat.push(performance.now() - t)
        if (r.status !== 202) failed++
      }
    }))
    const acceptedS = (performance.now() - start) / 1000
    // Polls one cheap question (is any server still building?) rather than listing all of
    // them every time: the bench must not be what loads the controller.
    for (;;) {
      const r = await must(call(`${nova(c)}/servers?status=BUILD&limit=1`, 'GET', c.token), 'building')
      if (r.body.servers.length === 0) break
      if (performance.now() - start > acceptedS * 1000 + 600_000) break
      await new Promise((r) => setTimeout(r, 250))
    }
    const activeS = (performance.now() - start) / 1000
    const counts = await detailCounts(c)

    // Over-commit check: every hypervisor's use within (total − reserved) × ratio as placement sees it.
    // The 2.1 view (usage fields are gone from 2.88 on); capacity as placement computes it from
    // the agent's inventories (VCPU ratio 4, 512 MB reserved above 4 GiB: agent-hosts.ts).
    const hv = await must(call(`${nova(c)}/os-hypervisors/detail`, 'GET', c.token), 'hypervisors')
    let vcpusUsed = 0, overCommitted = 0
    for (const h of hv.body.hypervisors) {
      vcpusUsed += h.vcpus_used
      const memCap = h.memory_mb - (h.memory_mb > 4096 ? 512 : 0)
      if (h.vcpus_used > h.vcpus * 4 || h.memory_mb_used > memCap || h.local_gb_used > h.local_gb) overCommitted++
    }

    const list = async (q: string) => {
      const lat: number[] = []
      for (let i = 0; i < SAMPLES; i++) {
        const t = performance.now()
        await must(call(`${nova(c)}/servers/detail${q}`, 'GET', c.token), 'detail')
        lat.push(performance.now() - t)
      }
      return { p50_ms: r1(pct(lat, 0.5)), p99_ms: r1(pct(lat, 0.99)) }
    }
    return {
      hosts: HOSTS, servers: SERVERS, concurrency: CONC, hosts_registered_s: r1(hostsUpS),
      create: { accepted_s: r1(acceptedS), all_active_or_error_s: r1(activeS), per_second: r1(SERVERS / activeS),
        post_p50_ms: r1(pct(createLat, 0.5)), post_p99_ms: r1(pct(createLat, 0.99)), rejected: failed, statuses: counts },
      placement: { vcpus_used: vcpusUsed, hypervisors_over_committed: overCommitted },
      list_detail_default_page: await list(''),
      list_detail_limit_100: await list('?limit=100'),
    }
  } finally {
    await c.stop()
  }
}

/** POST → ACTIVE through the API with the qemu driver, against the driver's own spawn time. */
async function qemuOverhead(): Promise<Record<string, unknown>> {
  const c = await startCloud(['--set', 'compute.driver=qemu'])
  const boots: number[] = []
  /** Per boot: the POST's own time, then when the API first showed the host assigned (spawning). */
  const posts: number[] = [], assigned: number[] = []
  try {
    const { image, flavor } = await prepare(c, readFileSync(GUEST), { vcpus: 1, ram: 256, disk: 1 })
    for (let i = 0; i < 3; i++) {
      const t = performance.now()
      const r = await must(call(`${nova(c)}/servers`, 'POST', c.token, { server: { name: `q${i}`, imageRef: image, flavorRef: flavor, networks: 'none' } },
        { 'openstack-api-version': 'compute 2.37' }), 'create')
      const id = r.body.server.id
      posts.push(performance.now() - t)
      let seen = false
      for (;;) {
        const s = await call(`${nova(c)}/servers/${id}`, 'GET', c.token)
        if (!seen && s.body.server['OS-EXT-STS:task_state'] === 'spawning') { seen = true; assigned.push(performance.now() - t) }
        if (s.body.server.status === 'ACTIVE') break
        if (s.body.server.status === 'ERROR') throw new Error(`boot failed: ${JSON.stringify(s.body.server.fault)}`)
        await new Promise((r) => setTimeout(r, 20))
      }
      boots.push(performance.now() - t)
      await must(call(`${nova(c)}/servers/${id}`, 'DELETE', c.token), 'delete')
      // Wait for the agent to destroy the guest: a stopped agent leaves its guests running.
      for (let w = 0; (await call(`${nova(c)}/servers/${id}`, 'GET', c.token)).status !== 404; w++) {
        if (w > 600) throw new Error(`server ${id} was not deleted within 60 s`)
        await new Promise((r) => setTimeout(r, 100))
      }
    }
  } finally {
    await c.stop()
  }
  // The driver alone, same image, same flavor: spawn resolves when qemu runs the guest.
  const root = mkdtempSync(join(tmpdir(), 'cumulo-bench-qemu-'))
  const driver = new QemuDriver({ root, accel: 'tcg' })
  const spawns: number[] = []
  try {
    await driver.init()
    for (let i = 0; i < 3; i++) {
      const id = `00000000-0000-4000-8000-00000000000${i}`
      const t = performance.now()
      await driver.spawn({ id, image: { path: GUEST, format: 'qcow2' }, flavor: { vcpus: 1, ramMb: 256, diskGb: 1 }, nics: [] })
      spawns.push(performance.now() - t)
      await driver.destroy(id)
    }
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
  // The first API boot also downloads and caches the image: compare the warm ones.
  const api = pct(boots.slice(1), 0.5), drv = pct(spawns.slice(1), 0.5)
  return { api_post_to_active_ms: boots.map(r1), post_ms: posts.map(r1), post_to_spawning_seen_ms: assigned.map(r1),
    driver_spawn_ms: spawns.map(r1), control_plane_overhead_ms: r1(api - drv) }
}

const result: Record<string, unknown> = { bench: 'compute', node: process.version, scale: await scale() }
if (QEMU) result.qemu_boot = await qemuOverhead()
else result.qemu_boot = values.qemu === 'off' ? 'skipped (--qemu off)'
  : 'skipped (no qemu-system-x86_64 or no test guest: bash scripts/build-guest.sh /tmp/cumulo-test-guest)'
process.stdout.write(JSON.stringify(result, null, 1) + '\n')
agent.destroy()
