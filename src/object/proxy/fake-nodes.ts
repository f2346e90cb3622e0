// Fake storage nodes for the storage client tests: a ring of N devices, each on its own port,
// answered by a scripted handler per device, so faults (507, 5xx, timeouts, 404s) can be placed
// on chosen replicas.
import { RingBuilder } from '../ring/builder.ts'
import type { Dev, Ring } from '../ring/ring.ts'
import type { BackendHandler, BackendRequest, BackendResponse } from '../storage/backend.ts'
import { StorageClient } from './storage-client.ts'

/** One scripted device: what it answers (default 201/200) and the requests it saw. */
export interface FakeDevice {
  dev: Dev
  calls: BackendRequest[]
  /** Answers a request; default: 2xx with an empty body. */
  answer?: (req: BackendRequest) => Promise<BackendResponse> | BackendResponse
}

/**
 * A ring of `count` devices (one zone each) with `replicas`, and a client whose nodes are the
 * fakes: called in-process, or with `remote` over HTTP (serve `handler(port)` on `ports`).
 */
export function fakeCluster(count: number, replicas = 3, o: { ports?: number[]; remote?: boolean } = {}): { ring: Ring; devices: FakeDevice[]; client: StorageClient; byId: (id: number) => FakeDevice; handler: (port: number) => BackendHandler } {
  const b = RingBuilder.create(4, replicas, 0)
  for (let i = 0; i < count; i++) b.addDev({ region: 1, zone: i + 1, ip: '127.0.0.1', port: o.ports?.[i] ?? 7000 + i, device: `d${i}`, weight: 100 })
  b.rebalance({ seed: 1 })
  const ring = b.getRing()
  const devices: FakeDevice[] = ring.devs.map((dev) => ({ dev: dev!, calls: [] }))
  const handlers = new Map<string, BackendHandler>()
  for (const d of devices) {
    handlers.set(`127.0.0.1:${d.dev.port}`, async (req) => {
      d.calls.push(req)
      if (d.answer) return d.answer(req)
      return { status: req.method === 'PUT' ? 201 : req.method === 'DELETE' ? 204 : 200, headers: {} }
    })
  }
  const client = new StorageClient({
    hashConfig: { prefix: 'p', suffix: 's' }, rings: { account: ring, container: ring, object: ring },
    local: o.remote ? undefined : (h) => handlers.get(h), postQuorumTimeoutMs: 50, nodeTimeoutMs: 500,
  })
  return { ring, devices, client, byId: (id) => devices[id]!, handler: (port) => handlers.get(`127.0.0.1:${port}`)! }
}
