import { CloudError } from '../../core/errors.ts'
import type { Logger } from '../../core/log.ts'
import type { DesiredPower } from '../instances.ts'
import type { MetadataInstance } from '../metadata.ts'
import type { NicAddress, NicSpec, PowerStateName, VirtDriver } from '../virt/driver.ts'
import type { AgentInstance, ControlClient, ReportBody } from './control-client.ts'
import { type ImageCache, ImageUnacceptable } from './image-cache.ts'
import type { InstanceFiles } from './instance-files.ts'
import type { MetadataServers } from './metadata-server.ts'
import { type OpDeps, flavorSpec, imageFor, runOp } from './ops.ts'

// Level-triggered reconciliation (docs/compute.md "A server's state"): every watch answer lists
// every server of the host, and each is brought to its desired state from whatever the
// hypervisor shows, so a missed answer or an agent restart costs nothing. One server's work is
// serialized (a newer view replaces a queued older one); different servers run in parallel up
// to a small limit.

/** What the reconciler needs. */
export interface ReconcilerDeps extends OpDeps {
  host: string
  client: ControlClient
  images: ImageCache
  files: InstanceFiles
  metadata: MetadataServers
  /** The host's availability zone, for the metadata of servers created without one. */
  zone: string
  /** How many servers are worked on at once (default 4). */
  concurrency?: number
}

type Job = { kind: 'sync'; inst: AgentInstance } | { kind: 'orphan'; uuid: string }

/** Brings the hypervisor to the watch list's desired state and reports back. */
export class Reconciler {
  readonly #slots = new Map<string, { next?: Job }>()
  readonly #lastReport = new Map<string, string>()
  /** Fault reports not yet taken by the controller (a failed spawn is not retried before they are). */
  readonly #faulted = new Map<string, { gen: number; body: ReportBody }>()
  readonly #addresses = new Map<string, NicAddress[]>()
  #known = new Map<string, AgentInstance>()
  #running = 0
  readonly #waiters: Array<() => void> = []
  #idleWaiters: Array<() => void> = []
  #stopped = false

  constructor(private readonly d: ReconcilerDeps) {}

  /** The server `uuid` as the last watch answer showed it. */
  instance(uuid: string): AgentInstance | undefined { return this.#known.get(uuid) }

  /**
   * Takes a watch answer: queues every listed server, and every guest the hypervisor has that
   * the list does not (deleted while the agent was away) for destruction.
   */
  async apply(list: AgentInstance[]): Promise<void> {
    this.#known = new Map(list.map((i) => [i.uuid, i]))
    for (const inst of list) this.#enqueue(inst.uuid, { kind: 'sync', inst })
    const guests = await this.d.driver.list()
    const leftovers = new Set([...guests.map((g) => g.id), ...await this.d.files.list()])
    for (const uuid of leftovers) if (!this.#known.has(uuid)) this.#enqueue(uuid, { kind: 'orphan', uuid })
  }

  /** Resolves once no work is queued or running (tests, shutdown). */
  idle(): Promise<void> {
    if (this.#slots.size === 0) return Promise.resolve()
    return new Promise((r) => this.#idleWaiters.push(r))
  }

  /** Takes no new work; running jobs finish. */
  async stop(): Promise<void> {
    this.#stopped = true
    for (const s of this.#slots.values()) delete s.next
    await this.idle()
  }

  #enqueue(uuid: string, job: Job): void {
    if (this.#stopped) return
    const slot = this.#slots.get(uuid)
    if (slot) { slot.next = job; return }
    const s = { next: job as Job | undefined }
    this.#slots.set(uuid, s)
    void this.#drain(uuid, s)
  }

  async #drain(uuid: string, slot: { next?: Job }): Promise<void> {
    while (slot.next) {
      const job = slot.next
      delete slot.next
      await this.#acquire()
      try {
        if (job.kind === 'sync') await this.#sync(job.inst)
        else await this.#destroyOrphan(job.uuid)
      } catch (e) {
        // Never let one server's trouble stop the others; the next watch answer retries.
        this.d.log.error({ err: e, uuid }, 'reconcile failed')
      } finally {
        this.#release()
      }
    }
    this.#slots.delete(uuid)
    if (this.#slots.size === 0) { const w = this.#idleWaiters; this.#idleWaiters = []; for (const r of w) r() }
  }

  async #acquire(): Promise<void> {
    if (this.#running < (this.d.concurrency ?? 4)) { this.#running++; return }
    await new Promise<void>((r) => this.#waiters.push(r))
  }
  #release(): void {
    const next = this.#waiters.shift()
    if (next) next()
    else this.#running--
  }

  async #sync(inst: AgentInstance): Promise<void> {
    const { driver } = this.d
    if (inst.desired_power === 'deleted') return this.#delete(inst)
    let state = await this.#state(inst.uuid)
    // A guest that exists (adopted after a restart too) gets its metadata server back; a new one
    // gets it in #spawn, before it boots.
    if (state !== undefined) await this.#ensureMetadata(inst)
    let launched = false
    if (state === undefined) {
      // A server that failed here (or that the API put in ERROR) is not respawned on every
      // watch answer; a new desired state (or a rebuild) is a new attempt.
      const unsent = this.#faulted.get(inst.uuid)
      if (unsent && unsent.gen === inst.desired_gen) return this.#sendFault(inst.uuid)
      if (inst.vm_state === 'error' && inst.pending_op?.kind !== 'rebuild') return
      if (!await this.#spawn(inst)) return
      launched = true
      state = await driver.getState(inst.uuid)
    }
    let op: ReportBody['op']
    const pending = inst.pending_op
    if (pending) {
      const done = await this.d.files.doneOp(inst.uuid, pending.id)
      // A rebuild of a server we just spawned from the rebuild's image is already done.
      if (done) op = done
      else if (launched && pending.kind === 'rebuild') op = { id: pending.id, result: 'ok' }
      else op = { id: pending.id, ...await runOp(this.d, inst, pending) }
      if (!done) await this.d.files.recordOp(inst.uuid, op)
    }
    // The state read above still holds unless an op ran since (it may have rebooted or resized).
    state = await this.#converge(inst, op ? await driver.getState(inst.uuid) : state)
    await this.#refreshAddresses(inst)
    if (!launched && !op && inst.applied_gen === inst.desired_gen) return
    await this.#report(inst.uuid, {
      host: this.d.host, gen: inst.desired_gen, power_state: state,
      ...(launched ? { launched: true as const } : {}), ...(op ? { op } : {}), ...this.#addressBody(inst.uuid),
    })
  }

  /** Creates the guest; on failure cleans up and reports a fault (false). */
  async #spawn(inst: AgentInstance): Promise<boolean> {
    try {
      if (!inst.image) throw new ImageUnacceptable('Booting from a volume is not supported by this host.')
      const imageRef = inst.pending_op?.kind === 'rebuild' ? inst.pending_op.imageRef : inst.image.id
      const image = await imageFor(this.d, inst, imageRef)
      await this.#ensureMetadata(inst)
      const nics: NicSpec[] = inst.nics.map((n) => n.mode === 'user'
        ? { mac: n.mac, user: { metadataSocket: this.d.files.metadataSocket(inst.uuid) } }
        : { mac: n.mac })
      await this.d.driver.spawn({
        id: inst.uuid, name: inst.name, image, flavor: flavorSpec(inst.flavor), nics,
        ...(inst.user_data ? { userData: inst.user_data } : {}),
      })
      return true
    } catch (e) {
      this.d.log.warn({ err: e, uuid: inst.uuid }, 'spawn failed')
      await this.d.driver.destroy(inst.uuid).catch(() => {})
      const message = (e as Error).message || 'Build of instance failed.'
      this.#faulted.set(inst.uuid, { gen: inst.desired_gen, body: {
        host: this.d.host, gen: inst.desired_gen, power_state: 'nostate',
        // An image no host can use would fail everywhere: no reschedule for it.
        fault: { message, details: String((e as Error).stack ?? message).slice(0, 4000), reschedule: !(e instanceof ImageUnacceptable) },
      } })
      await this.#sendFault(inst.uuid)
      return false
    }
  }

  /**
   * Sends a pending fault report. Once the controller has it, the server either leaves this
   * host (reschedule) or is in ERROR, so a later appearance here is a fresh attempt: nothing
   * about the failure is remembered (not even for the duplicate-report check).
   */
  async #sendFault(uuid: string): Promise<void> {
    const f = this.#faulted.get(uuid)
    if (!f) return
    const outcome = await this.d.client.report(uuid, f.body)
    if (outcome !== 'accepted') this.d.log.info({ uuid, outcome }, 'fault report not taken')
    this.#faulted.delete(uuid)
    this.#lastReport.delete(uuid)
  }

  /** Serves the instance's metadata on its socket when it has a user-mode NIC. */
  async #ensureMetadata(inst: AgentInstance): Promise<void> {
    await this.d.files.ensureDir(inst.uuid)
    if (inst.nics.some((n) => n.mode === 'user')) {
      await this.d.metadata.ensure(this.#metadataView(inst), this.d.files.metadataSocket(inst.uuid))
    }
  }

  /** Moves the guest's power state towards `desired_power`; answers the state it ends in. */
  async #converge(inst: AgentInstance, state: PowerStateName): Promise<PowerStateName> {
    const { driver } = this.d
    const id = inst.uuid
    const want = inst.desired_power as Exclude<DesiredPower, 'deleted'>
    // Already there: no need to ask the hypervisor again (a QMP round trip per server and answer).
    if (state === want) return state
    try {
      if (want === 'running') {
        if (state === 'paused') await driver.unpause(id)
        else if (state === 'suspended') await driver.resume(id)
        else if (state === 'crashed') { await driver.powerOff(id); await driver.powerOn(id) }
        else if (state !== 'running') await driver.powerOn(id)
      } else if (want === 'shutdown') {
        if (state !== 'shutdown') await driver.powerOff(id)
      } else if (want === 'paused') {
        if (state === 'suspended') await driver.resume(id)
        else if (state !== 'running' && state !== 'paused') await driver.powerOn(id)
        if (state !== 'paused') await driver.pause(id)
      } else if (want === 'suspended') {
        if (state === 'paused') await driver.unpause(id)
        else if (state !== 'running' && state !== 'suspended') await driver.powerOn(id)
        if (state !== 'suspended') await driver.suspend(id)
      }
    } catch (e) {
      this.d.log.warn({ err: e, uuid: id, from: state, to: want }, 'power change failed')
    }
    return driver.getState(id)
  }

  async #delete(inst: AgentInstance): Promise<void> {
    await this.d.driver.destroy(inst.uuid)
    await this.d.metadata.stop(inst.uuid)
    await this.d.files.remove(inst.uuid)
    this.#addresses.delete(inst.uuid)
    await this.#report(inst.uuid, { host: this.d.host, gen: inst.desired_gen, power_state: 'nostate', deleted: true })
  }

  async #destroyOrphan(uuid: string): Promise<void> {
    this.d.log.info({ uuid }, 'destroying a guest that is no longer assigned to this host')
    await this.d.driver.destroy(uuid)
    await this.d.metadata.stop(uuid)
    await this.d.files.remove(uuid)
    this.#addresses.delete(uuid)
    this.#lastReport.delete(uuid)
    this.#faulted.delete(uuid)
  }

  /** Sends a report unless the same one was already accepted (answers repeat while nothing changes). */
  async #report(uuid: string, body: ReportBody): Promise<void> {
    const key = JSON.stringify(body)
    if (this.#lastReport.get(uuid) === key) return
    const outcome = await this.d.client.report(uuid, body)
    if (outcome !== 'accepted') this.d.log.info({ uuid, outcome }, 'report not taken')
    this.#lastReport.set(uuid, key)
  }

  async #state(uuid: string): Promise<PowerStateName | undefined> {
    try {
      return await this.d.driver.getState(uuid)
    } catch (e) {
      if (e instanceof CloudError && e.kind === 'NotFound') return undefined
      throw e
    }
  }

  async #refreshAddresses(inst: AgentInstance): Promise<void> {
    const a = await this.d.driver.addresses(inst.uuid).catch(() => [] as NicAddress[])
    const before = JSON.stringify(this.#addresses.get(inst.uuid) ?? [])
    this.#addresses.set(inst.uuid, a)
    // The metadata's local-ipv4 follows the address once the driver knows it.
    if (before !== JSON.stringify(a) && this.d.metadata.has(inst.uuid)) {
      await this.d.metadata.ensure(this.#metadataView(inst), this.d.files.metadataSocket(inst.uuid))
    }
  }

  /** Nova's `addresses` for the user-mode NICs, only as the driver knows them (never guessed). */
  #addressBody(uuid: string): { addresses?: Record<string, unknown> } {
    const a = this.#addresses.get(uuid) ?? []
    if (!a.length) return {}
    return { addresses: { user: a.map((x) => ({ version: 4, addr: x.ip, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': x.mac })) } }
  }

  #metadataView(inst: AgentInstance): MetadataInstance {
    const addrs = this.#addresses.get(inst.uuid) ?? []
    return {
      ...inst, availability_zone: inst.availability_zone || this.d.zone,
      nics: inst.nics.map((n) => ({ ...n, ipv4: addrs.find((a) => a.mac === n.mac)?.ip ?? null })),
    }
  }
}
