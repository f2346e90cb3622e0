// bench/object: object-store throughput, for Cumulo or any Swift / S3 endpoint on this machine.
//
//   node --import tsx bench/object.ts [--replicas 1|3|1,3] [--concurrency 16,32] [--count 2000]
//        [--warmup N] [--big-mib 256] [--api swift,s3] [--daemons off|on] [--cpu-prof DIR]
//   node --import tsx bench/object.ts --endpoint http://host:8080/v1/AUTH_x --token T [--server-pid 123,456]
//   node --import tsx bench/object.ts --auth-url http://host:8080/auth/v1.0 --user test:tester --key testing
//   node --import tsx bench/object.ts --auth-url http://host:5000/v3 --user u --password p --project proj
//   node --import tsx bench/object.ts --s3-endpoint http://host:8080 --access AK --secret SK [--region us-east-1]
//
// Measures, per API: 4 KiB PUT, GET and DELETE ops/s at each concurrency (closed loop, keep-alive),
// after --warmup (default --count) unmeasured PUTs and DELETEs, and MB/s of one --big-mib object
// PUT and GET as single streams. Server CPU per op comes from
// /proc/<pid>/stat of the server: the `cumulo up` child it starts itself when no endpoint is
// given (on a temp dir, removed afterwards; its background daemons off unless --daemons on, as
// Swift's run in processes of their own), or the processes named by --server-pid (for Swift: its
// proxy, object, container and account server pids). Prints one JSON document.
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { type Access, type OwnCloud, keystoneV3, startOwnCloud, swiftV1 } from './object/cloud.ts'
import { CpuMeter } from './object/cpu.ts'
import { type OpsResult, type StreamResult, request, runOps, streamGet, streamPut } from './object/load.ts'
import { type Target, s3Target, swiftTarget } from './object/targets.ts'
import http from 'node:http'

const { values } = parseArgs({ options: {
  endpoint: { type: 'string' },
  token: { type: 'string' },
  'auth-url': { type: 'string' },
  user: { type: 'string' },
  key: { type: 'string' },
  password: { type: 'string' },
  project: { type: 'string' },
  domain: { type: 'string' },
  's3-endpoint': { type: 'string' },
  access: { type: 'string' },
  secret: { type: 'string' },
  region: { type: 'string', default: 'RegionOne' },
  api: { type: 'string' },
  replicas: { type: 'string', default: '1' },
  concurrency: { type: 'string', default: '16,32' },
  count: { type: 'string', default: '2000' },
  warmup: { type: 'string' },
  'big-mib': { type: 'string', default: '256' },
  'server-pid': { type: 'string' },
  'cpu-prof': { type: 'string' },
  daemons: { type: 'string', default: 'off' },
  help: { type: 'boolean' },
} })

if (values.help) {
  process.stdout.write((await import('node:fs')).readFileSync(new URL(import.meta.url), 'utf8').split('\n')
    .filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n') + '\n')
  process.exit(0)
}

const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean)
const concurrencies = list(values.concurrency!).map(Number)
const count = Number(values.count)
/** Unmeasured PUTs and DELETEs first: JIT warm-up, and the partition dirs a young cluster still lacks. */
const warmup = Number(values.warmup ?? values.count)
const bigBytes = Math.round(Number(values['big-mib']) * 1024 * 1024)
const external = !!(values.endpoint || values['auth-url'] || values['s3-endpoint'])

/** Access to an endpoint given on the command line. */
async function externalAccess(): Promise<Access> {
  const a: Access = {}
  const authUrl = values['auth-url']
  if (authUrl && /\/v3\/?$/.test(authUrl)) {
    const k = await keystoneV3({ authUrl, user: values.user!, password: values.password ?? values.key!, project: values.project!, domain: values.domain })
    a.token = k.token
    a.storageUrl = values.endpoint ?? k.storageUrl
  } else if (authUrl) {
    const v1 = await swiftV1(authUrl, values.user!, values.key ?? values.password!)
    a.token = v1.token
    a.storageUrl = values.endpoint ?? v1.storageUrl
  } else if (values.endpoint) {
    if (!values.token) throw new Error('--endpoint needs --token (or use --auth-url)')
    a.storageUrl = values.endpoint
    a.token = values.token
  }
  if (values['s3-endpoint']) {
    if (!values.access || !values.secret) throw new Error('--s3-endpoint needs --access and --secret')
    a.s3 = { endpoint: values['s3-endpoint'], accessKey: values.access, secret: values.secret }
  }
  return a
}

function targetsOf(a: Access): Target[] {
  const apis = values.api ? list(values.api) : ['swift', 's3']
  const bucket = `bench-${randomBytes(4).toString('hex')}`
  const out: Target[] = []
  if (apis.includes('swift') && a.storageUrl && a.token) out.push(swiftTarget(a.storageUrl, a.token, bucket))
  if (apis.includes('s3') && a.s3) out.push(s3Target(a.s3.endpoint, { accessKey: a.s3.accessKey, secret: a.s3.secret, region: values.region! }, bucket))
  if (!out.length) throw new Error('nothing to benchmark: give a Swift endpoint/auth or S3 keys (and --api)')
  return out
}

/** One API's full run: small objects at each concurrency, then one large stream each way. */
async function benchTarget(t: Target, cpu: CpuMeter): Promise<Record<string, OpsResult | StreamResult>> {
  const agent = new http.Agent({ keepAlive: false })
  const made = await request(agent, t.url, t.createBucket())
  if (made.status >= 300) throw new Error(`${t.api}: creating ${t.bucket} answered ${made.status} ${made.text ?? ''}`)
  const out: Record<string, OpsResult | StreamResult> = {}
  const body = Buffer.alloc(4096, 0x61)
  try {
    if (warmup > 0) {
      const c = Math.max(...concurrencies)
      const name = (i: number) => `warmup/${i}`
      await runOps({ target: t, concurrency: c, count: warmup, cpu, make: (i) => ({ call: t.put(name(i), body.length, body), body }), ok: () => true })
      await runOps({ target: t, concurrency: c, count: warmup, cpu, make: (i) => ({ call: t.del(name(i)) }), ok: () => true })
    }
    for (const c of concurrencies) {
      const name = (i: number) => `small/c${c}/${i}`
      out[`put_4k_c${c}`] = await runOps({ target: t, concurrency: c, count, cpu,
        make: (i) => ({ call: t.put(name(i), body.length, body), body }), ok: (s) => s === 201 || s === 200 })
      out[`get_4k_c${c}`] = await runOps({ target: t, concurrency: c, count, cpu,
        make: (i) => ({ call: t.get(name(i)) }), ok: (s, n) => s === 200 && n === body.length })
      out[`delete_4k_c${c}`] = await runOps({ target: t, concurrency: c, count, cpu,
        make: (i) => ({ call: t.del(name(i)) }), ok: (s) => s === 204 })
    }
    if (bigBytes > 0) {
      out.put_big = await streamPut(t, 'big', bigBytes, cpu)
      out.get_big = await streamGet(t, 'big', cpu)
      await request(agent, t.url, t.del('big'))
    }
  } finally {
    await request(agent, t.url, t.deleteBucket()).catch(() => undefined)
  }
  return out
}

/** Runs every API against one cloud. */
async function benchAccess(a: Access, pids: number[]): Promise<Record<string, unknown>> {
  const cpu = new CpuMeter(pids)
  const results: Record<string, unknown> = {}
  for (const t of targetsOf(a)) results[t.api] = await benchTarget(t, cpu)
  return results
}

const runs: Record<string, unknown>[] = []
if (external) {
  const pids = values['server-pid'] ? list(values['server-pid']).map(Number) : []
  const a = await externalAccess()
  runs.push({ endpoint: a.storageUrl ?? a.s3?.endpoint, server_pids: pids, results: await benchAccess(a, pids) })
} else {
  for (const replicas of list(values.replicas!).map(Number)) {
    let cloud: OwnCloud | undefined
    try {
      const daemons = values.daemons === 'on'
      cloud = await startOwnCloud({ replicas, daemons, cpuProfDir: values['cpu-prof'] })
      runs.push({ cloud: 'cumulo up (child process)', replicas, daemons, results: await benchAccess(cloud, [cloud.pid]) })
    } finally {
      await cloud?.destroy()
    }
  }
}
process.stdout.write(JSON.stringify({
  bench: 'object', node: process.version, object_bytes: 4096, count, warmup, concurrency: concurrencies,
  big_bytes: bigBytes, runs,
}, null, 1) + '\n')
