import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, test } from 'node:test'
import { InstanceFiles } from './instance-files.ts'
import { MAX_SOCKET_PATH } from './metadata-server.ts'

const roots: string[] = []
after(() => { for (const r of roots) rmSync(r, { recursive: true, force: true }) })

test('metadata sockets fit a socket address however deep the data directory is, and go with their instance', async () => {
  const base = mkdtempSync(join(tmpdir(), 'cumulo-files-'))
  roots.push(base)
  const uuid = '78cee9bd-f5fb-4d0e-86e0-f28030d82af5'
  const short = new InstanceFiles(join(base, 'i'))
  assert.equal(short.metadataSocket(uuid), join(base, 'i', uuid, 'md.sock'))
  const deep = new InstanceFiles(join(base, 'cloud', 'compute', 'fake', 'a-rather-long-host-name-0001', 'instances'))
  const sock = deep.metadataSocket(uuid)
  assert.ok(Buffer.byteLength(sock) <= MAX_SOCKET_PATH, sock)
  assert.notEqual(deep.metadataSocket(uuid), short.metadataSocket(uuid))
  assert.equal(deep.metadataSocket(uuid), sock, 'stable for the instance')
  await deep.ensureDir(uuid)
  writeFileSync(sock, '')
  await deep.remove(uuid)
  assert.equal(existsSync(sock), false)
  assert.equal(existsSync(dirname(sock)), false, 'the short directory goes with its last socket')
})
