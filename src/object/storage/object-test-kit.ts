// Helpers for the object server tests: temp device trees, fresh timestamps, short request calls.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { type BackendCall, type BackendResponse, type BackendTarget, callBackend, readBody } from './backend.ts'
import type { ContainerUpdate, ContainerUpdateTarget } from './container-update.ts'

export const HASH_CFG = { prefix: 'test-prefix', suffix: 'test-suffix' }

/** A temp devices root with the given device directories; `cleanup` removes it. */
export function tempDevices(devices: string[] = ['sda']): { root: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'cumulo-obj-'))
  for (const d of devices) mkdirSync(join(root, d))
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) }
}

let last = 0
/** A strictly increasing timestamp near now (tombstones older than reclaim_age would vanish). */
export function freshTs(): string {
  let t = Math.round(Date.now() * 100)
  if (t <= last) t = last + 1
  last = t
  return (t / 100000).toFixed(5)
}

/** Sends a request and reads the whole response body. */
export async function call(target: BackendTarget, c: BackendCall): Promise<BackendResponse & { text: string; buf: Buffer }> {
  const r = await callBackend(target, c)
  const buf = await readBody(r)
  return { ...r, buf, text: buf.toString('latin1') }
}

/** PUT helper: Content-Length from the body unless headers say otherwise. */
export function putCall(path: string, body: Buffer | string, headers: Record<string, string> = {}): BackendCall {
  const b = typeof body === 'string' ? Buffer.from(body) : body
  return {
    method: 'PUT', path,
    headers: { 'x-timestamp': freshTs(), 'content-type': 'application/octet-stream', 'content-length': String(b.length), ...headers },
    body: Readable.from([b]),
  }
}

/** A fake container updater recording calls; `fail` makes it reject. */
export function fakeUpdater(): { calls: { target: ContainerUpdateTarget; update: ContainerUpdate }[]; fail: boolean; fn: (t: ContainerUpdateTarget, u: ContainerUpdate) => Promise<void> } {
  const state = {
    calls: [] as { target: ContainerUpdateTarget; update: ContainerUpdate }[],
    fail: false,
    fn: async (target: ContainerUpdateTarget, update: ContainerUpdate) => {
      state.calls.push({ target, update })
      if (state.fail) throw new Error('container down')
    },
  }
  return state
}
