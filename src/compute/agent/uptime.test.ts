import assert from 'node:assert/strict'
import { test } from 'node:test'
import { hostUptime } from './console-server.ts'

test('the host uptime reads as the uptime command prints it', async () => {
  const line = await hostUptime(new Date('2026-11-25T08:32:11Z'))
  assert.match(line, /^ \d\d:\d\d:\d\d up (\d+ days?, )?[ \d]\d:\d\d, {2}0 users, {2}load average: [\d.]+, [\d.]+, [\d.]+$/)
})
