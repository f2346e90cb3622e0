// Throughput check for the object server (not a test: prints numbers, asserts nothing).
//   node --import tsx src/object/storage/throughput-check.ts [sizeMiB=1024] [smallOps=2000]
// Measures: single-stream GET of a large object over HTTP (client in a separate process) with
// and without inline md5 verification, the same in-process, and 4 KiB PUT/GET ops/s.
import { fork } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { type BackendHandler, callBackend, readBody, serveBackend } from './backend.ts'
import { createObjectServer } from './object-server.ts'

const HASH = { prefix: 'bench', suffix: 'bench' }
const ts = () => (Date.now() / 1000).toFixed(5)

/** Child process: GETs `url` `n` times over keep-alive HTTP, reports GB/s per run. */
async function client(url: string, n: number): Promise<void> {
  const agent = new http.Agent({ keepAlive: true })
  const rates: number[] = []
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint()
    const bytes = await new Promise<number>((resolve, reject) => {
      http.get(url, { agent }, (res) => {
        let got = 0
        res.on('data', (c: Buffer) => { got += c.length })
        res.on('end', () => resolve(got))
        res.on('error', reject)
      }).on('error', reject)
    })
    rates.push(bytes / (Number(process.hrtime.bigint() - t0) / 1e9) / 1e9)
  }
  process.send?.(rates)
  agent.destroy()
}

function httpRates(url: string, n: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['client', url, String(n)], { execArgv: process.execArgv })
    child.once('message', (m) => resolve(m as number[]))
    child.once('error', reject)
  })
}

async function smallOps(srv: BackendHandler, n: number, concurrency: number): Promise<{ put: number; get: number }> {
  const body = Buffer.alloc(4096, 0x61)
  const run = async (fn: (i: number) => Promise<void>) => {
    let next = 0
    const t0 = process.hrtime.bigint()
    await Promise.all(Array.from({ length: concurrency }, async () => { while (next < n) await fn(next++) }))
    return n / (Number(process.hrtime.bigint() - t0) / 1e9)
  }
  const put = await run(async (i) => {
    const r = await callBackend(srv, { method: 'PUT', path: `/sda/${i % 64}/a/c/small-${i}`,
      headers: { 'x-timestamp': ts(), 'content-type': 'x/y', 'content-length': '4096' }, body: Readable.from([body]) })
    if (r.status !== 201) throw new Error(`PUT ${r.status}`)
  })
  const get = await run(async (i) => {
    const r = await callBackend(srv, { method: 'GET', path: `/sda/${i % 64}/a/c/small-${i}` })
    if ((await readBody(r)).length !== 4096) throw new Error('short GET')
  })
  return { put, get }
}

async function main(): Promise<void> {
  const sizeMiB = Number(process.argv[2] ?? 1024)
  const nSmall = Number(process.argv[3] ?? 2000)
  const root = mkdtempSync(join(tmpdir(), 'cumulo-bench-'))
  mkdirSync(join(root, 'sda'))
  try {
    const fast = createObjectServer({ devicesRoot: root, hashConfig: HASH })
    const verifying = createObjectServer({ devicesRoot: root, hashConfig: HASH, etagValidateMaxBytes: Infinity })
    const size = sizeMiB * 1024 * 1024
    const chunk = Buffer.alloc(1024 * 1024, 0x5a)
    const t0 = process.hrtime.bigint()
    const put = await callBackend(fast, { method: 'PUT', path: '/sda/1/a/c/big',
      headers: { 'x-timestamp': ts(), 'content-type': 'x/y', 'content-length': String(size) },
      body: Readable.from((function* () { for (let i = 0; i < sizeMiB; i++) yield chunk })()) })
    if (put.status !== 201) throw new Error(`PUT ${put.status}`)
    const putRate = size / (Number(process.hrtime.bigint() - t0) / 1e9) / 1e9
    console.log(`PUT ${sizeMiB} MiB in-process (md5 + fdatasync): ${putRate.toFixed(2)} GB/s`)

    for (const [label, srv] of [['no inline md5 (default above 32 MiB)', fast], ['inline md5 verification', verifying]] as const) {
      const t = process.hrtime.bigint()
      const r = await callBackend(srv, { method: 'GET', path: '/sda/1/a/c/big' })
      let got = 0
      for await (const c of r.body as Readable) got += (c as Buffer).length
      console.log(`GET in-process, ${label}: ${(got / (Number(process.hrtime.bigint() - t) / 1e9) / 1e9).toFixed(2)} GB/s`)
      const server = await serveBackend(srv, { host: '127.0.0.1', port: 0 })
      const rates = await httpRates(`${server.url}/sda/1/a/c/big`, 3)
      console.log(`GET over HTTP, ${label}: ${rates.map((x) => x.toFixed(2)).join(', ')} GB/s`)
      await server.close()
    }
    const ops = await smallOps(fast, nSmall, 32)
    console.log(`4 KiB objects in-process, concurrency 32: PUT ${ops.put.toFixed(0)} ops/s, GET ${ops.get.toFixed(0)} ops/s`)
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

if (process.argv[2] === 'client') await client(process.argv[3], Number(process.argv[4]))
else await main()
