// Faults the object store must survive without losing an acknowledged object (issue #3):
// - a device's data deleted → the replicators restore every object and the container DB;
// - a byte flipped on disk → a GET never hands out the corrupt bytes as a good answer, the
//   auditor quarantines the replica, and the replicator restores it;
// - storage servers SIGKILLed during a stream of writes (storage nodes in child processes) →
//   every write either failed or is durable, and after restart and a replication pass every
//   replica and every container listing converge.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { closeSync, existsSync, ftruncateSync, openSync, readSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs'
import http from 'node:http'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { callBackend, readBody } from '../../src/object/storage/backend.ts'
import { type HttpResult, type ObjectCloud, filesIn, md5, startObjectCloud } from '../support/object-cloud.ts'
import { type NodeCluster, startNodeCluster } from '../support/object-nodes.ts'

const DEVICES = ['d1', 'd2', 'd3']

/** Runs `fn` over `items`, `limit` at a time. */
async function eachLimit<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) { const i = next++; await fn(items[i], i) }
  }))
}

/** Objects of varied sizes: empty, small (kept in the first read), and larger than one read ahead (64 KiB). */
function makeObjects(n: number, prefix: string): { name: string; body: Buffer }[] {
  return Array.from({ length: n }, (_, i) => {
    const size = i % 10 === 0 ? 0 : i % 3 === 0 ? 70_000 + i * 97 : 1 + ((i * 7919) % 20_000)
    return { name: `${prefix}/${String(i).padStart(4, '0')}`, body: randomBytes(size) }
  })
}

/** The async_pending records (undelivered container updates) of one device. */
function asyncPendings(devicePath: string): string[] {
  const dir = join(devicePath, 'async_pending')
  if (!existsSync(dir)) return []
  return readdirSync(dir).flatMap((suffix) => readdirSync(join(dir, suffix)).map((f) => `${suffix}/${f}`))
}

/** A kill that other steps can wait for: `fire` runs it (once), `done` resolves when it has happened. */
function killSwitch(kill: () => Promise<void>): { fire(): Promise<void>; done: Promise<void>; isDone: boolean } {
  let fired: Promise<void> | undefined
  let resolveDone!: () => void
  const sw = {
    isDone: false,
    done: new Promise<void>((r) => { resolveDone = r }),
    fire: () => (fired ??= kill().then(() => { sw.isDone = true; resolveDone() })),
  }
  return sw
}

/** The single .data file of an object on one device, or undefined. */
function dataFile(cloud: ObjectCloud, container: string, name: string, device: string): string | undefined {
  const dir = cloud.objectPlacement(container, name).dir(device)
  const f = filesIn(dir).filter((x) => x.endsWith('.data'))
  return f.length === 1 ? join(dir, f[0]) : undefined
}

/** GET straight from one device's object server (what that replica holds). */
async function getFromDevice(cloud: ObjectCloud, container: string, name: string, device: string) {
  const { partition } = cloud.objectPlacement(container, name)
  const r = await callBackend(cloud.store.servers.object, { method: 'GET', path: `/${device}/${partition}/${cloud.account}/${container}/${encodeURIComponent(name).replace(/%2F/g, '/')}` })
  let body: Buffer = Buffer.alloc(0)
  let cut = false
  try { body = await readBody(r) } catch { cut = true }
  return { status: r.status, etag: r.headers.etag, body, cut }
}

/** The object names a device's replica of a container DB lists. */
async function listFromDevice(cloud: ObjectCloud, container: string, device: string): Promise<string[]> {
  const { partition } = cloud.containerPlacement(container)
  const r = await callBackend(cloud.store.servers.container, { method: 'GET', path: `/${device}/${partition}/${cloud.account}/${container}`, query: 'format=json&limit=10000' })
  const body = await readBody(r)
  assert.equal(r.status, 200, `container listing on ${device}: ${r.status} ${body}`)
  return (JSON.parse(body.toString('utf8')) as { name: string }[]).map((o) => o.name)
}

/** A whole GET through the proxy must never be a complete 200 with other bytes than `want`. */
function assertNeverCorrupt(r: HttpResult, want: Buffer, what: string): 'good' | 'refused' {
  if (r.status === 200 && r.complete) {
    assert.ok(r.body.equals(want), `${what}: a complete 200 with corrupt bytes`)
    assert.equal(r.headers.etag, md5(want), `${what}: etag`)
    return 'good'
  }
  // Acceptable: the transfer was cut (the object server found the md5 wrong mid-stream), or an error status.
  assert.ok(r.status !== 200 || !r.complete, what)
  return 'refused'
}

describe('object store faults (in-process, 3 devices, 3 replicas)', () => {
  describe('a device\'s data deleted', () => {
    let cloud: ObjectCloud
    before(async () => { cloud = await startObjectCloud() })
    after(async () => { await cloud?.close() })

    test('the replicators restore every object and the container DB; every GET is right', async () => {
      const c = 'restore'
      assert.equal((await cloud.swift('PUT', `/${c}`)).status, 201)
      const objects = makeObjects(200, 'obj')
      await eachLimit(objects, 16, async (o) => {
        const r = await cloud.swift('PUT', `/${c}/${o.name}`, { body: o.body, headers: { 'content-type': 'application/x-test', 'x-object-meta-n': o.name } })
        assert.equal(r.status, 201, `PUT ${o.name}: ${r.status} ${r.text}`)
        assert.equal(r.headers.etag, md5(o.body))
      })
      for (const o of objects) for (const d of DEVICES) assert.ok(dataFile(cloud, c, o.name, d), `${o.name} on ${d} after PUT`)

      // The disk "replaced": every object of d2 and its container (and account) DBs are gone.
      const victim = 'd2'
      const cdb = cloud.containerPlacement(c).dir(victim)
      assert.ok(existsSync(cdb), 'the container DB is on d2')
      rmSync(join(cloud.devicesRoot, victim, 'objects'), { recursive: true, force: true })
      rmSync(join(cloud.devicesRoot, victim, 'containers'), { recursive: true, force: true })
      rmSync(join(cloud.devicesRoot, victim, 'accounts'), { recursive: true, force: true })

      // Reads still work from the other replicas meanwhile.
      for (const o of objects.slice(0, 20)) {
        const r = await cloud.swift('GET', `/${c}/${o.name}`)
        assert.equal(r.status, 200)
        assert.ok(r.body.equals(o.body))
      }

      const objStats = await cloud.store.daemons.objectReplicator.runOnce()
      const dbStats = await cloud.store.daemons.containerReplicator.runOnce()
      await cloud.store.daemons.accountReplicator.runOnce()
      assert.equal(objStats.failures, 0, JSON.stringify(objStats))
      assert.equal(dbStats.failures, 0, JSON.stringify(dbStats))

      let missing = 0
      for (const o of objects) {
        if (!dataFile(cloud, c, o.name, victim)) { missing++; continue }
        const got = await getFromDevice(cloud, c, o.name, victim)
        assert.equal(got.status, 200, `${o.name} on ${victim}`)
        assert.ok(got.body.equals(o.body), `${o.name} bytes on ${victim}`)
        assert.equal(got.etag?.replace(/"/g, ''), md5(o.body))
      }
      assert.equal(missing, 0, `${missing} objects not restored on ${victim} (replicator: ${JSON.stringify(objStats)})`)
      assert.ok(existsSync(cdb), 'the container DB is back on d2')
      assert.ok(existsSync(join(cloud.devicesRoot, victim, 'accounts')), 'the account DB is back on d2')
      const names = objects.map((o) => o.name).sort()
      for (const d of DEVICES) assert.deepEqual(await listFromDevice(cloud, c, d), names, `listing on ${d}`)

      // Through the proxy: every object, its bytes, etag and metadata.
      await eachLimit(objects, 8, async (o) => {
        const r = await cloud.swift('GET', `/${c}/${o.name}`)
        assert.equal(r.status, 200)
        assert.ok(r.complete && r.body.equals(o.body), `GET ${o.name}`)
        assert.equal(r.headers.etag, md5(o.body))
        assert.equal(r.headers['x-object-meta-n'], o.name)
      })
      // A second pass finds nothing left to do.
      const again = await cloud.store.daemons.objectReplicator.runOnce()
      assert.equal(again.objectsPushed, 0, JSON.stringify(again))
    })
  })

  describe('bit rot', () => {
    let cloud: ObjectCloud
    before(async () => { cloud = await startObjectCloud() })
    after(async () => { await cloud?.close() })

    /** Flips one byte of a file, `fromEnd` bytes before its end (the body is at the end). */
    const flipByte = (path: string, fromEnd: number) => {
      const pos = statSync(path).size - 1 - fromEnd
      const fd = openSync(path, 'r+')
      try {
        const b = Buffer.alloc(1)
        readSync(fd, b, 0, 1, pos)
        b[0] ^= 0x40
        writeSync(fd, b, 0, 1, pos)
      } finally { closeSync(fd) }
    }
    const quarantined = (device: string) => {
      try { return readdirSync(join(cloud.devicesRoot, device, 'quarantined', 'objects')) } catch { return [] }
    }

    test('GETs never return corrupt bytes; the auditor quarantines; the replicator restores', async (t) => {
      const c = 'rot'
      assert.equal((await cloud.swift('PUT', `/${c}`)).status, 201)
      // Large (streamed, md5-checked while sent) and small (checked before sending) objects.
      const objects = [
        ...Array.from({ length: 6 }, (_, i) => ({ name: `big-${i}`, body: randomBytes(300_000 + i) })),
        ...Array.from({ length: 6 }, (_, i) => ({ name: `small-${i}`, body: randomBytes(1000 + i) })),
      ]
      for (const o of objects) assert.equal((await cloud.swift('PUT', `/${c}/${o.name}`, { body: o.body })).status, 201)
      // One corrupt replica per object. Half are read by GETs first, with the replica the proxy
      // reads first (the first primary) corrupt, so the read path meets it; the other half, on
      // every device in turn, only the auditor finds.
      const corrupt = objects.map((o, i) => {
        const readFirst = i % 2 === 0
        return { ...o, readFirst, device: readFirst ? cloud.objectPlacement(c, o.name).nodes[0].device : DEVICES[i % 3] }
      })
      for (const o of corrupt) flipByte(dataFile(cloud, c, o.name, o.device)!, 10 + (o.body.length % 100))

      // Through the proxy: whichever replica answers, never a complete 200 with other bytes.
      let good = 0
      let refused = 0
      for (const o of corrupt.filter((x) => x.readFirst)) {
        for (let i = 0; i < 6; i++) {
          if (assertNeverCorrupt(await cloud.swift('GET', `/${c}/${o.name}`), o.body, `GET ${o.name} #${i}`) === 'good') good++
          else refused++
        }
      }
      assert.ok(good > 0, 'the good replicas serve the objects')
      // The large ones were cut once (the first GET streamed from the corrupt copy until its md5
      // failed); the small ones never were (the copy is checked before a byte is sent).
      assert.equal(refused, corrupt.filter((x) => x.readFirst && x.name.startsWith('big')).length)
      // Straight from each corrupt replica: a small body is refused before any byte goes (404),
      // a streamed one is cut short; either way the read path quarantines the copy.
      for (const o of corrupt.filter((x) => x.readFirst)) {
        const direct = await getFromDevice(cloud, c, o.name, o.device)
        assert.ok(direct.status === 404 || (direct.status === 200 && direct.cut), `${o.name} from ${o.device}: ${direct.status}`)
        assert.equal(dataFile(cloud, c, o.name, o.device), undefined, `${o.name}: the read path quarantined ${o.device}'s copy`)
        assert.ok(quarantined(o.device).includes(cloud.objectPlacement(c, o.name).hash))
      }

      const audit = await cloud.store.daemons.auditor.runOnce()
      assert.equal(audit.errors, 0, JSON.stringify(audit))
      // The auditor found exactly the copies no GET had read.
      assert.equal(audit.quarantined, corrupt.filter((x) => !x.readFirst).length, JSON.stringify(audit))
      for (const o of corrupt) {
        assert.equal(dataFile(cloud, c, o.name, o.device), undefined, `${o.name}: corrupt replica on ${o.device} still in place`)
        assert.ok(quarantined(o.device).includes(cloud.objectPlacement(c, o.name).hash), `${o.name} quarantined on ${o.device}`)
      }
      // Direct reads of those devices now miss (404), they never serve the bad copy.
      for (const o of corrupt) assert.equal((await getFromDevice(cloud, c, o.name, o.device)).status, 404)

      const repl = await cloud.store.daemons.objectReplicator.runOnce()
      assert.equal(repl.failures, 0, JSON.stringify(repl))
      for (const o of corrupt) {
        for (const d of DEVICES) {
          const got = await getFromDevice(cloud, c, o.name, d)
          assert.equal(got.status, 200, `${o.name} on ${d} after replication`)
          assert.ok(got.body.equals(o.body), `${o.name} restored on ${d}`)
        }
      }
      const second = await cloud.store.daemons.auditor.runOnce()
      assert.equal(second.quarantined, 0, JSON.stringify(second))
      for (const o of objects) {
        const r = await cloud.swift('GET', `/${c}/${o.name}`)
        assert.equal(r.status, 200)
        assert.ok(r.complete && r.body.equals(o.body))
      }
      t.diagnostic(`proxy GETs of objects with a corrupt replica: ${good} served good bytes, ${refused} refused or cut`)
    })

    test('corrupt metadata or a truncated file is quarantined on open; GET serves a good replica', async () => {
      const c = 'rot2'
      assert.equal((await cloud.swift('PUT', `/${c}`)).status, 201)
      const a = { name: 'meta-flip', body: randomBytes(200_000) }
      const b = { name: 'truncated', body: randomBytes(200_000) }
      for (const o of [a, b]) assert.equal((await cloud.swift('PUT', `/${c}/${o.name}`, { body: o.body })).status, 201)
      // A byte inside the JSON metadata (offset 40: past the 24-byte prefix) of d1's copy.
      const fa = dataFile(cloud, c, a.name, 'd1')!
      const fd = openSync(fa, 'r+')
      try { writeSync(fd, Buffer.from('#'), 0, 1, 40) } finally { closeSync(fd) }
      // d2's copy of the other loses its last 1000 bytes.
      const fb = dataFile(cloud, c, b.name, 'd2')!
      const fdb = openSync(fb, 'r+')
      try { ftruncateSync(fdb, statSync(fb).size - 1000) } finally { closeSync(fdb) }

      for (let i = 0; i < 4; i++) {
        for (const o of [a, b]) assertNeverCorrupt(await cloud.swift('GET', `/${c}/${o.name}`), o.body, `GET ${o.name}`)
      }
      await cloud.store.daemons.auditor.runOnce()
      assert.equal(dataFile(cloud, c, a.name, 'd1'), undefined)
      assert.equal(dataFile(cloud, c, b.name, 'd2'), undefined)
      await cloud.store.daemons.objectReplicator.runOnce()
      for (const [o, d] of [[a, 'd1'], [b, 'd2']] as const) {
        const got = await getFromDevice(cloud, c, o.name, d)
        assert.equal(got.status, 200)
        assert.ok(got.body.equals(o.body), `${o.name} restored on ${d}`)
      }
    })
  })
})

describe('storage nodes killed during writes (nodes in child processes)', () => {
  // Ports of this file: offset 45100 on Swift's 6200-6202 (each node on its own 127.0.0.N).
  const BASE_PORT = 6200 + 18100 // below the ephemeral port range (32768+)
  let cluster: NodeCluster
  let cloud: ObjectCloud
  const c = 'killed'
  /** Every PUT tried: its bytes and what the client was told. */
  const tried: { name: string; body: Buffer; status: number; error?: string; afterKill?: boolean }[] = []
  const acked = () => tried.filter((t) => t.status === 201)

  before(async () => {
    cluster = await startNodeCluster({ basePort: BASE_PORT })
    // The proxy (and identity) here, on an address no ring device has: every storage server is remote.
    cloud = await startObjectCloud({ dataDir: cluster.root, host: '127.0.0.9' })
  })
  after(async () => {
    await cloud?.close()
    await cluster?.destroy()
  })

  const nodeUrl = (i: number, kind: 'object' | 'container' | 'account') => `http://${cluster.nodes[i].host}:${cluster.ports[kind]}`
  /** What node i's object server holds for an object: status and bytes. */
  const objectOnNode = async (i: number, name: string) => {
    const { partition } = cloud.objectPlacement(c, name)
    const r = await callBackend(nodeUrl(i, 'object'), { method: 'GET', path: `/${cluster.nodes[i].device}/${partition}/${cloud.account}/${c}/${name}` })
    return { status: r.status, body: await readBody(r) }
  }
  const listOnNode = async (i: number) => {
    const { partition } = cloud.containerPlacement(c)
    const r = await callBackend(nodeUrl(i, 'container'), { method: 'GET', path: `/${cluster.nodes[i].device}/${partition}/${cloud.account}/${c}`, query: 'format=json&limit=10000' })
    const body = await readBody(r)
    assert.equal(r.status, 200, `listing on node ${i}: ${r.status} ${body}`)
    return (JSON.parse(body.toString('utf8')) as { name: string; hash: string; bytes: number }[])
  }
  /** PUTs `count` objects, `concurrency` at a time, calling `during(i)` before the i-th one starts. */
  const writeStream = async (prefix: string, count: number, concurrency: number, during: (i: number) => Promise<void> | void, killed?: { isDone: boolean }) => {
    const items = Array.from({ length: count }, (_, i) => ({ name: `${prefix}-${String(i).padStart(4, '0')}`, body: randomBytes(i % 4 === 0 ? 150_000 : 2_000 + i * 31) }))
    await eachLimit(items, concurrency, async (it, i) => {
      await during(i)
      const afterKill = killed?.isDone
      const r = await cloud.swift('PUT', `/${c}/${it.name}`, { body: it.body })
      tried.push({ ...it, status: r.status, error: r.error, afterKill })
      if (r.status === 201) assert.equal(r.headers.etag, md5(it.body))
      else assert.ok(r.status === 0 || r.status === 503, `${it.name}: a failed write is 503 (or a cut connection), got ${r.status} ${r.text}`)
    })
  }
  /** A PUT whose body trickles in; `midway` runs once half of it was sent. */
  const slowPut = (name: string, body: Buffer, midway: () => Promise<void>) => new Promise<HttpResult>((resolvePut) => {
    const req = http.request({ method: 'PUT', host: '127.0.0.1', port: cloud.port, path: `/v1/${cloud.account}/${c}/${name}`, agent: false,
      headers: { 'x-auth-token': cloud.h.adminToken, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (d: Buffer) => chunks.push(d))
      res.on('end', () => { const b = Buffer.concat(chunks); resolvePut({ status: res.statusCode ?? 0, headers: res.headers, body: b, text: b.toString(), complete: true }) })
    })
    req.on('error', (err) => resolvePut({ status: 0, headers: {}, body: Buffer.alloc(0), text: '', complete: false, error: err.message }))
    void (async () => {
      const step = 256 * 1024
      for (let off = 0; off < body.length; off += step) {
        if (off >= body.length / 2 && off - step < body.length / 2) await midway()
        if (!req.write(body.subarray(off, off + step))) await new Promise((r) => req.once('drain', r))
        await new Promise((r) => setTimeout(r, 5))
      }
      req.end()
    })()
  })

  test('one of three nodes killed mid-stream: every write is acknowledged (quorum) and durable', async () => {
    assert.equal((await cloud.swift('PUT', `/${c}`)).status, 201)
    // A large upload is half sent when node 2 dies amid a stream of small ones: it keeps its quorum.
    const k = killSwitch(() => cluster.nodes[1].kill())
    const big = randomBytes(8 * 1024 * 1024)
    const bigPut = slowPut('big-one-down', big, () => k.done)
    await writeStream('one-down', 120, 8, async (i) => { if (i === 40) await k.fire() })
    const r = await bigPut
    tried.push({ name: 'big-one-down', body: big, status: r.status, error: r.error })
    assert.equal(r.status, 201, `big PUT with one node killed mid-body: ${r.status} ${r.text}`)
    const failed = tried.filter((t) => t.status !== 201)
    assert.equal(failed.length, 0, `with 2 of 3 nodes up every write has a quorum: ${failed.map((f) => `${f.name} ${f.status} ${f.error ?? ''}`).join(', ')}`)
    // Readable at once from the surviving replicas.
    for (const t of acked().slice(-10)) {
      const g = await cloud.swift('GET', `/${c}/${t.name}`)
      assert.equal(g.status, 200)
      assert.ok(g.body.equals(t.body))
    }
  })

  test('two of three nodes killed mid-stream: writes fail cleanly (503), none is acknowledged wrongly', async (t) => {
    const before = tried.length
    const k = killSwitch(() => cluster.nodes[2].kill())
    const big = randomBytes(8 * 1024 * 1024)
    const bigPut = slowPut('big-two-down', big, () => k.done)
    await writeStream('two-down', 60, 8, async (i) => { if (i === 20) await k.fire() }, k)
    const r = await bigPut
    tried.push({ name: 'big-two-down', body: big, status: r.status, error: r.error })
    assert.ok(r.status === 503 || r.status === 0, `big PUT losing its quorum mid-body: ${r.status} ${r.text}`)
    const mine = tried.slice(before)
    const late = mine.filter((x) => x.afterKill)
    assert.ok(late.length >= 30, `${late.length} writes started with one node left`)
    assert.ok(late.every((x) => x.status !== 201), 'with one node of three no write can be acknowledged')
    t.diagnostic(`second kill: ${mine.filter((x) => x.status === 201).length} writes acknowledged, ${mine.filter((x) => x.status !== 201).length} refused (${late.length} started after it)`)
  })

  test('after restart and a replication pass: zero acknowledged writes lost, replicas and listings converge', async (t) => {
    let t0 = Date.now()
    const lap = (what: string) => { t.diagnostic(`${what}: ${Date.now() - t0} ms`); t0 = Date.now() }
    // Container updates the dead container servers missed were saved for the updater.
    const pending = cluster.nodes.flatMap((n) => asyncPendings(join(cluster.root, 'devices', n.device)))
    assert.ok(pending.length > 0, 'writes while container replicas were down left async pendings')
    await Promise.all([cluster.nodes[1].start(), cluster.nodes[2].start()])
    lap('restart')
    // The object updaters deliver the container updates saved while container replicas were
    // down; one replication round (every node to every other) brings objects and container DBs
    // up to date; then the container updaters report the final counts to the accounts.
    const upd = await cluster.runAll(['updater'])
    assert.ok(upd.some((s) => s.updater.successes > 0), `async pendings were delivered: ${JSON.stringify(upd)}`)
    for (const n of cluster.nodes) assert.deepEqual(asyncPendings(join(cluster.root, 'devices', n.device)), [], `async pendings left on ${n.device}`)
    await cluster.runAll(['objectReplicator', 'containerReplicator'])
    lap('updaters, replication')
    await cluster.runAll(['containerUpdater', 'accountReplicator'])
    const quiet = await cluster.runAll(['objectReplicator'])
    for (const s of quiet) assert.equal(s.objectReplicator.objectsPushed, 0, `a second pass has nothing to push: ${JSON.stringify(s)}`)

    // Every object tried is either on every replica with its bytes, or on none (a failed write
    // may still have landed on one node; then replication spread it whole).
    const present = new Map<string, Buffer>()
    await eachLimit(tried, 8, async (t) => {
      const copies = await Promise.all([0, 1, 2].map((i) => objectOnNode(i, t.name)))
      const statuses = copies.map((x) => x.status)
      if (t.status === 201) assert.deepEqual(statuses, [200, 200, 200], `acknowledged ${t.name} on every node`)
      else assert.ok(statuses.every((s) => s === 404) || statuses.every((s) => s === 200), `${t.name} (failed write): ${statuses}`)
      if (statuses[0] === 200) {
        for (const x of copies) assert.ok(x.body.equals(t.body), `${t.name}: every copy has the bytes that were written`)
        present.set(t.name, t.body)
      }
    })
    assert.ok(acked().every((t) => present.has(t.name)), 'zero acknowledged objects lost')
    // Every container replica lists exactly the objects that exist, with their etags and sizes.
    lap('checked every copy')
    const want = [...present.keys()].sort()
    for (const i of [0, 1, 2]) {
      const listing = await listOnNode(i)
      assert.deepEqual(listing.map((o) => o.name), want, `container listing on node ${i}`)
      for (const o of listing) {
        assert.equal(o.hash, md5(present.get(o.name)!))
        assert.equal(o.bytes, present.get(o.name)!.length)
      }
    }
    // And through the proxy: listing, every object, and the account's counts.
    const list = await cloud.swift('GET', `/${c}?format=json&limit=10000`)
    assert.deepEqual((JSON.parse(list.text) as { name: string }[]).map((o) => o.name), want)
    await eachLimit([...present], 8, async ([name, body]) => {
      const g = await cloud.swift('GET', `/${c}/${name}`)
      assert.equal(g.status, 200, name)
      assert.ok(g.complete && g.body.equals(body), name)
    })
    const head = await cloud.swift('HEAD', `/${c}`)
    assert.equal(head.headers['x-container-object-count'], String(want.length))
    const acct = await cloud.swift('HEAD', '')
    assert.equal(acct.headers['x-account-object-count'], String(want.length))
  })
})
