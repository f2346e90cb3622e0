// The object benchmark's load loops over keep-alive HTTP: a closed loop of small requests at a
// fixed concurrency, and single large streams (PUT from a repeated buffer, GET read and
// dropped). Each phase reports server CPU per operation when a CpuMeter can see the server.
import http from 'node:http'
import net from 'node:net'
import type { CpuMeter } from './cpu.ts'
import type { HttpCall, Target } from './targets.ts'

/** Figures of one phase of small requests. */
export interface OpsResult {
  ops: number
  errors: number
  seconds: number
  ops_per_s: number
  p50_ms: number
  p99_ms: number
  /** Server CPU (user + system, all its threads) per operation; absent without a server pid. */
  server_cpu_ms_per_op?: number
  /** This load generator's own CPU per operation (it shares the machine with the server). */
  client_cpu_ms_per_op: number
  /** The first failure seen, to tell what went wrong. */
  first_error?: string
}

/** Figures of one large stream. */
export interface StreamResult {
  bytes: number
  seconds: number
  mb_per_s: number
  server_cpu_ms?: number
  status: number
}

/** Sends one request; resolves with the status and the body length (the body is read and dropped). */
export function request(agent: http.Agent, url: URL, call: HttpCall, body?: Buffer): Promise<{ status: number; bytes: number; text?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port || 80, method: call.method, path: call.path, headers: call.headers, agent }, (res) => {
      let bytes = 0
      const status = res.statusCode ?? 0
      const keep: Buffer[] = []
      res.on('data', (c: Buffer) => {
        bytes += c.length
        if (status >= 300 && bytes < 4096) keep.push(c)
      })
      res.on('end', () => resolve({ status, bytes, text: keep.length ? Buffer.concat(keep).toString('utf8').slice(0, 300) : undefined }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d

/**
 * Runs `count` requests made by `make(i)` with `concurrency` workers on one keep-alive agent.
 * `ok(status, bytes)` decides success; failures are counted, never thrown.
 */
export async function runOps(o: {
  target: Target; concurrency: number; count: number; cpu: CpuMeter
  make: (i: number) => { call: HttpCall; body?: Buffer }
  ok: (status: number, bytes: number) => boolean
}): Promise<OpsResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency, maxFreeSockets: o.concurrency })
  const lat = new Float64Array(o.count)
  let next = 0
  let errors = 0
  let firstError: string | undefined
  const worker = async () => {
    for (let i = next++; i < o.count; i = next++) {
      const { call, body } = o.make(i)
      const t0 = performance.now()
      try {
        const r = await request(agent, o.target.url, call, body)
        if (!o.ok(r.status, r.bytes)) { errors++; firstError ??= `${call.method} ${call.path}: ${r.status} ${r.text ?? ''}` }
      } catch (err) {
        errors++
        firstError ??= `${call.method} ${call.path}: ${(err as Error).message}`
      }
      lat[i] = performance.now() - t0
    }
  }
  const cpu0 = o.cpu.sample()
  const mine0 = process.cpuUsage()
  const t0 = performance.now()
  await Promise.all(Array.from({ length: o.concurrency }, worker))
  const seconds = (performance.now() - t0) / 1000
  const mine = process.cpuUsage(mine0)
  const cpu1 = o.cpu.sample()
  agent.destroy()
  lat.sort()
  const pct = (p: number) => round(lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0)
  const out: OpsResult = {
    ops: o.count, errors, seconds: round(seconds), ops_per_s: Math.round(o.count / seconds),
    p50_ms: pct(0.5), p99_ms: pct(0.99),
    client_cpu_ms_per_op: round((mine.user + mine.system) / 1000 / o.count, 3),
  }
  if (cpu0 !== undefined && cpu1 !== undefined) out.server_cpu_ms_per_op = round((cpu1 - cpu0) / o.count, 3)
  if (firstError) out.first_error = firstError
  return out
}

/** PUTs one object of `bytes` as a single stream of 1 MiB chunks (with backpressure). */
export async function streamPut(target: Target, name: string, bytes: number, cpu: CpuMeter): Promise<StreamResult> {
  const agent = new http.Agent({ keepAlive: false })
  const chunk = Buffer.alloc(1024 * 1024, 0x5a)
  const call = target.put(name, bytes)
  const cpu0 = cpu.sample()
  const t0 = performance.now()
  const status = await new Promise<number>((resolve, reject) => {
    const req = http.request({ host: target.url.hostname, port: target.url.port || 80, method: call.method, path: call.path, headers: call.headers, agent }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    let left = bytes
    const pump = () => {
      while (left > 0) {
        const c = left >= chunk.length ? chunk : chunk.subarray(0, left)
        left -= c.length
        if (!req.write(c)) { req.once('drain', pump); return }
      }
      req.end()
    }
    pump()
  })
  return streamResult(bytes, t0, cpu0, cpu, status)
}

/**
 * GETs one object as a single stream, counting and dropping the bytes. The client reads the
 * socket into one reused buffer (net's `onread`) and parses the response head itself, so that
 * the load generator, not the server, is never what limits the figure.
 */
export async function streamGet(target: Target, name: string, cpu: CpuMeter): Promise<StreamResult> {
  const call = target.get(name)
  const cpu0 = cpu.sample()
  const t0 = performance.now()
  const { status, bytes } = await rawGet(target.url, call)
  return streamResult(bytes, t0, cpu0, cpu, status)
}

/** One HTTP/1.1 GET over a fresh connection; the body is counted, not kept. */
function rawGet(url: URL, call: HttpCall): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    let head = ''
    let status = 0
    let length = -1
    let bytes = 0
    const settle = (err?: Error) => {
      sock.destroy()
      if (err) reject(err)
      else resolve({ status, bytes })
    }
    const sock = net.connect({
      host: url.hostname, port: Number(url.port || 80),
      onread: {
        buffer: Buffer.allocUnsafe(1 << 20),
        callback: (n: number, buf: Uint8Array) => {
          let from = 0
          if (length < 0) {
            head += Buffer.from(buf.buffer, buf.byteOffset, n).toString('latin1')
            const at = head.indexOf('\r\n\r\n')
            if (at < 0) return true
            status = Number(head.slice(9, 12))
            const m = /\r\ncontent-length:\s*(\d+)/i.exec(head.slice(0, at))
            length = m ? Number(m[1]) : 0
            from = n - (head.length - at - 4)
          }
          bytes += n - from
          if (bytes >= length) settle()
          return true
        },
      },
    })
    sock.on('error', settle)
    sock.on('end', () => settle(bytes < length ? new Error(`short body: ${bytes} of ${length}`) : undefined))
    const lines = [`${call.method} ${call.path} HTTP/1.1`, `host: ${url.host}`, 'connection: close']
    for (const [k, v] of Object.entries(call.headers)) if (k !== 'host') lines.push(`${k}: ${v}`)
    sock.write(lines.join('\r\n') + '\r\n\r\n')
  })
}

function streamResult(bytes: number, t0: number, cpu0: number | undefined, cpu: CpuMeter, status: number): StreamResult {
  const seconds = (performance.now() - t0) / 1000
  const cpu1 = cpu.sample()
  const out: StreamResult = { bytes, seconds: round(seconds, 3), mb_per_s: Math.round(bytes / seconds / 1e6), status }
  if (cpu0 !== undefined && cpu1 !== undefined) out.server_cpu_ms = Math.round(cpu1 - cpu0)
  return out
}
