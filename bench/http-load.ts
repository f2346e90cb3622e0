import http from 'node:http'

/** One request of a load run. */
export interface LoadRequest { method: string; path: string; headers?: Record<string, string>; body?: string }

export interface LoadResult { requests: number; errors: number; seconds: number; perSecond: number; p50ms: number; p99ms: number }

/**
 * A closed-loop load generator over keep-alive HTTP: `concurrency` workers, each sending the
 * next request as soon as the previous one answered, for `seconds`. Counts non-2xx as errors.
 */
export async function load(o: { url: string; concurrency: number; seconds: number; make: (i: number) => LoadRequest; expect?: number }): Promise<LoadResult> {
  const u = new URL(o.url)
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency })
  const lat: number[] = []
  let requests = 0, errors = 0, i = 0
  const end = performance.now() + o.seconds * 1000
  const one = (r: LoadRequest) => new Promise<number>((resolve) => {
    const req = http.request({ host: u.hostname, port: u.port, method: r.method, path: r.path, agent,
      headers: { ...r.headers, ...(r.body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(r.body) } : {}) } },
    (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)) })
    req.on('error', () => resolve(0))
    req.end(r.body)
  })
  const worker = async () => {
    while (performance.now() < end) {
      const t0 = performance.now()
      const status = await one(o.make(i++))
      lat.push(performance.now() - t0)
      requests++
      if (o.expect ? status !== o.expect : status < 200 || status >= 300) errors++
    }
  }
  const t0 = performance.now()
  await Promise.all(Array.from({ length: o.concurrency }, worker))
  const seconds = (performance.now() - t0) / 1000
  agent.destroy()
  lat.sort((a, b) => a - b)
  const pct = (p: number) => Math.round((lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0) * 100) / 100
  return { requests, errors, seconds: Math.round(seconds * 100) / 100, perSecond: Math.round(requests / seconds), p50ms: pct(0.5), p99ms: pct(0.99) }
}
