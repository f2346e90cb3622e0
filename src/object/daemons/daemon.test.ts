import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RateLimiter, mapLimit } from './common.ts'
import { PeriodicDaemon, StoppedError, checkStopped, sleep } from './daemon.ts'

/** A daemon whose passes take `ms` and check for stop every 5 ms. */
class Counting extends PeriodicDaemon<{ n: number }> {
  passes = 0
  running = 0
  maxRunning = 0
  constructor(private readonly ms: number) { super('counting') }
  protected async pass(signal: AbortSignal) {
    this.running++
    this.maxRunning = Math.max(this.maxRunning, this.running)
    try {
      for (let t = 0; t < this.ms; t += 5) { await sleep(5, signal); checkStopped(signal) }
      return { n: ++this.passes }
    } finally {
      this.running--
    }
  }
}

describe('PeriodicDaemon', () => {
  it('runOnce returns the pass counts; concurrent calls run one after the other', async () => {
    const d = new Counting(10)
    const [a, b] = await Promise.all([d.runOnce(), d.runOnce()])
    assert.deepEqual([a.n, b.n], [1, 2])
    assert.equal(d.maxRunning, 1)
    assert.deepEqual(d.lastStats, { n: 2 })
  })

  it('start runs passes periodically; stop interrupts the pass in progress and waits for it', async () => {
    const d = new Counting(30)
    d.start(5)
    for (let i = 0; i < 200 && d.passes < 2; i++) await new Promise((r) => setTimeout(r, 5))
    assert.ok(d.passes >= 2)
    await new Promise((r) => setTimeout(r, 10)) // usually mid-pass now
    await d.stop()
    assert.equal(d.running, 0, 'no pass left running after stop')
    const n = d.passes
    await new Promise((r) => setTimeout(r, 40))
    assert.equal(d.passes, n, 'no pass after stop')
    // It can be used again.
    assert.equal((await d.runOnce()).n, n + 1)
  })

  it('a stopped pass rejects runOnce with StoppedError', async () => {
    const d = new Counting(1000)
    const p = d.runOnce()
    await new Promise((r) => setTimeout(r, 10))
    await d.stop()
    await assert.rejects(p, StoppedError)
  })
})

describe('RateLimiter', () => {
  it('sleeps to keep the average rate, crediting at most the burst', async () => {
    let now = 10_000
    const slept: number[] = []
    const clock = { now: () => now, sleep: async (ms: number) => { slept.push(ms); now += ms } }
    const l = new RateLimiter(100, 1000, clock) // 100 units/s, 1 s of burst
    for (let i = 0; i < 100; i++) await l.take(1) // the burst: no sleeping
    assert.deepEqual(slept, [])
    await l.take(50) // half a second more than the clock allows
    assert.deepEqual(slept, [500])
    now += 5000 // idle for 5 s: only 1 s is credited
    slept.length = 0
    await l.take(150)
    assert.deepEqual(slept, [500])
  })

  it('does not limit with a rate of 0', async () => {
    const clock = { now: () => 0, sleep: async () => { throw new Error('must not sleep') } }
    await new RateLimiter(0, 1000, clock).take(1e9)
  })
})

describe('mapLimit', () => {
  it('keeps at most `limit` calls in flight, runs every item, and rethrows the first error at the end', async () => {
    let inFlight = 0
    let max = 0
    const done: number[] = []
    await assert.rejects(mapLimit([1, 2, 3, 4, 5, 6, 7], 3, async (i) => {
      inFlight++
      max = Math.max(max, inFlight)
      await new Promise((r) => setTimeout(r, 2))
      inFlight--
      done.push(i)
      if (i === 2) throw new Error('two')
    }), /two/)
    assert.equal(max, 3)
    assert.deepEqual(done.sort(), [1, 2, 3, 4, 5, 6, 7])
  })
})
