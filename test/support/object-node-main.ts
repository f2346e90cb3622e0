// A storage node in its own process, for tests that kill one (test/support/object-nodes.ts
// starts it): the object store's account, container and object servers on this node's devices,
// served on its ring address, with its daemons built but idle. The parent runs daemon passes
// over IPC: { id, run: ['objectReplicator', …] } → { id, stats } (or { id, error }).
//
//   node --import tsx object-node-main.ts --root DIR --host 127.0.0.2 --devices d2 --ports 51300,51301,51302
//
// The rings and hash.json under --root are the parent's (shared by every node); the proxy is
// not used here, so tokens are refused.
import { parseArgs } from 'node:util'
import { CloudError } from '../../src/core/errors.ts'
import { createCore } from '../../src/core/index.ts'
import { createObjectStore } from '../../src/object/index.ts'
import type { DaemonName } from '../../src/object/daemons/index.ts'

/** A request from the parent. */
export interface NodeCommand { id: number; run: DaemonName[] }
/** The answer: each daemon's pass counts, or why the passes failed. */
export interface NodeReply { id: number; stats?: Record<string, unknown>; error?: string }

const { values } = parseArgs({
  options: {
    root: { type: 'string' }, host: { type: 'string' }, devices: { type: 'string' }, ports: { type: 'string' },
  },
})
const [object, container, account] = values.ports!.split(',').map(Number)
const core = createCore({ database: 'sqlite::memory:', logLevel: process.env.CUMULO_LOG_LEVEL ?? 'silent' })
const store = await createObjectStore(core, {
  auth: { validate: async () => { throw new CloudError('Unauthorized', 'storage node only') } },
  dataDir: values.root!, host: values.host!, devices: values.devices!.split(','),
  ports: { object, container, account }, daemons: false,
})
await store.serveBackends(values.host!)

process.on('message', (m: NodeCommand) => {
  void (async () => {
    const stats: Record<string, unknown> = {}
    try {
      for (const name of m.run) stats[name] = await store.daemons[name].runOnce()
      process.send!({ id: m.id, stats } satisfies NodeReply)
    } catch (err) {
      process.send!({ id: m.id, error: String((err as Error).stack ?? err) } satisfies NodeReply)
    }
  })()
})
// The parent going away (its test ended or crashed) ends the node too.
process.on('disconnect', () => { void store.close().finally(() => process.exit(0)) })
process.send!({ ready: true })
