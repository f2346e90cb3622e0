import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CloudError } from '../../core/errors.ts'
import { Timestamp, decodeTimestamps, encodeTimestamps, normalizeTimestamp, parseXTimestamp } from './timestamp.ts'

test('normalizeTimestamp matches Swift (values from swift test_timestamp and python3 "%016.05f")', () => {
  const cases: [number | string, string][] = [
    ['1253327593.48174', '1253327593.48174'], [1253327593.48174, '1253327593.48174'],
    ['1253327593.48', '1253327593.48000'], [253327593.48, '0253327593.48000'],
    ['1253327593', '1253327593.00000'], [0, '0000000000.00000'],
    [1700000000.123456, '1700000000.12346'], [1700000000.123465, '1700000000.12346'],
    // Python rounds half to even on the float quotient: these pin that behaviour.
    [0.000005, '0000000000.00000'], [0.000015, '0000000000.00002'], [0.000025, '0000000000.00002'],
    [1.000005, '0000000001.00000'], [1234567890.1234548, '1234567890.12345'],
    ['1e9', '1000000000.00000'], [' 12.5 ', '0000000012.50000'],
    ['9999999999.99999', '9999999999.99999'], [9999999999.999994, '9999999999.99999'],
    [new Timestamp(1253327593, { offset: 0xabcdef }).internal, '1253327593.00000'],
  ]
  for (const [input, want] of cases) assert.equal(normalizeTimestamp(input), want, String(input))
})

test('bad timestamps are 400 CloudErrors', () => {
  for (const bad of ['', 'abc', '123.456_78_90', '1.5_xyz', '1.5_00000000000000001', 'inf', 'nan', '0x10', '-1',
    '10000000000', '1,5', '1.5.5']) {
    assert.throws(() => new Timestamp(bad), (e: unknown) => e instanceof CloudError && e.status === 400, bad)
  }
  assert.throws(() => new Timestamp(-0.5), CloudError)
  assert.throws(() => new Timestamp(Number.NaN), CloudError)
  assert.throws(() => new Timestamp(1, { offset: -1 }), CloudError)
  assert.throws(() => new Timestamp(1, { delta: -100001 }), /delta must be greater than -100001/)
})

test('parseXTimestamp gives swob messages', () => {
  assert.throws(() => parseXTimestamp(undefined), (e: CloudError) => e.status === 400 && e.message === 'Missing X-Timestamp header')
  assert.throws(() => parseXTimestamp('nope'), (e: CloudError) => e.status === 400 && e.message === 'Invalid X-Timestamp header')
  assert.equal(parseXTimestamp('1700000000.5').internal, '1700000000.50000')
  assert.equal(parseXTimestamp('1700000000.5_0a').internal, '1700000000.50000_000000000000000a')
})

test('internal form with offset (swift test_internal_format_with_offset)', () => {
  const expected = '1402436408.91203_00000000000000f0'
  const values = [
    '1402436408.91203_000000f0', '1402436408.912030000_0000000000f0', '1402436408.912029_000000f0',
    '1402436408.91202999999_0000000000f0', '000001402436408.912030000_000000000f0',
    '000001402436408.9120299999_000000000f0',
    new Timestamp(1402436408.91203, { offset: 240 }), new Timestamp(1402436408.912029, { offset: 240 }),
    new Timestamp('1402436408.91203', { offset: 240 }), new Timestamp('1402436408.91203_0000000f', { offset: 225 }),
    new Timestamp('1402436408.9120299999_00000010', { offset: 224 }),
  ]
  for (const v of values) {
    const ts = new Timestamp(v)
    assert.equal(ts.internal, expected)
    assert.ok(ts.equals(expected))
    assert.equal(ts.compare(ts.normal), 1)
    assert.equal(ts.compare(Number(ts.normal)), 1)
  }
  assert.equal(new Timestamp(1402436408.91203, { offset: 0xf0 }).short, '1402436408.91203_f0')
  assert.equal(new Timestamp(1402436408.91203).short, '1402436408.91203')
  assert.equal(new Timestamp(1402436408.91203, { offset: 0xf0 }).raw, 140243640891203)
  assert.equal(new Timestamp('1.5_ffffffffffffffff').offset, (1n << 64n) - 1n)
  assert.throws(() => new Timestamp('1.5_ffffffffffffffff', { offset: 1 }), CloudError)
})

test('ordering, delta, isoformat, ceil', () => {
  const a = new Timestamp('1700000000.00001')
  const b = new Timestamp('1700000000.00001_0000000000000001')
  const c = new Timestamp('1700000000.00002')
  assert.equal(a.compare(b), -1)
  assert.equal(b.compare(c), -1)
  assert.equal(c.compare(a), 1)
  assert.ok(a.equals(1700000000.00001))
  assert.deepEqual([c, b, a].sort((x, y) => x.compare(y)).map(String), [a.internal, b.internal, c.internal])
  // String order of internal forms is the same order.
  assert.ok(a.internal < b.internal && b.internal < c.internal)
  assert.equal(new Timestamp(a, { delta: 5 }).normal, '1700000000.00006')
  assert.equal(new Timestamp(1700000000.12345).isoformat, '2023-11-14T22:13:20.123450')
  assert.equal(new Timestamp(0).isoformat, '1970-01-01T00:00:00.000000')
  assert.equal(new Timestamp(1700000000.00001).ceil(), 1700000001)
  assert.equal(new Timestamp(1700000000).ceil(), 1700000000)
  assert.equal(JSON.stringify({ t: b }), `{"t":"${b.internal}"}`)
  const now = Timestamp.now()
  assert.ok(Math.abs(now.seconds - Date.now() / 1000) < 5)
})

test('encode/decode timestamps (swift TestTimestampEncoding vectors)', () => {
  const t0 = new Timestamp(0), t1 = new Timestamp(997.9996), t2 = new Timestamp(999)
  const t3 = new Timestamp(1000, { offset: 24 }), t4 = new Timestamp(1001), t5 = new Timestamp(1002.0004)
  type T = Timestamp | undefined
  const both: [string, [Timestamp, T, T]][] = [
    ['0000001000.00000_18+0+186a0', [t3, t3, t4]], ['0000001000.00000_18+186a0+186c8', [t3, t4, t5]],
    ['0000001000.00000_18-186a0+0', [t3, t2, t2]], ['0000001000.00000_18+0-186a0', [t3, t3, t2]],
    ['0000001000.00000_18-186a0-186c8', [t3, t2, t1]], ['0000001000.00000_18', [t3, undefined, undefined]],
    ['0000001000.00000_18+186a0', [t3, t4, undefined]], ['0000001000.00000_18-186a0', [t3, t2, undefined]],
    ['0000001000.00000_18-5f5e100', [t3, t0, undefined]], ['0000001000.00000_18+0-5f5e100', [t3, t3, t0]],
    ['0000001000.00000_18-5f5e100+5f45a60', [t3, t0, t2]],
  ]
  for (const explicit of [true, false]) {
    for (const [enc, [a, b, c]] of both) assert.equal(encodeTimestamps(a, b, c, explicit), enc)
  }
  assert.equal(encodeTimestamps(t3, t3, t3, true), '0000001000.00000_18+0+0')
  assert.equal(encodeTimestamps(t3, t3, undefined, true), '0000001000.00000_18+0')
  assert.equal(encodeTimestamps(t3, t3, t3, false), '0000001000.00000_18')
  const str = (ts: T[]) => ts.map((t) => t?.internal)
  const decodings: [string, T[]][] = [
    ['0000001000.00000_18+0+186a0', [t3, t3, t4]], ['0000001000.00000_18+186a0+186c8', [t3, t4, t5]],
    ['0000001000.00000_18-186a0+0', [t3, t2, t2]], ['0000001000.00000_18-186a0-186c8', [t3, t2, t1]],
    ['0000001000.00000_18-5f5e100+5f45a60', [t3, t0, t2]],
  ]
  for (const explicit of [true, false]) {
    for (const [enc, want] of decodings) assert.deepEqual(str(decodeTimestamps(enc, explicit)), str(want), enc)
  }
  assert.deepEqual(str(decodeTimestamps('0000001000.00000_18', false)), str([t3, t3, t3]))
  assert.deepEqual(str(decodeTimestamps('0000001000.00000_18-186a0', false)), str([t3, t2, t2]))
  assert.deepEqual(str(decodeTimestamps('0000001000.00000_18', true)), str([t3, undefined, undefined]))
  assert.deepEqual(str(decodeTimestamps('0000001000.00000_18+0', true)), str([t3, t3, undefined]))
  assert.throws(() => decodeTimestamps('1000.0+zz'), CloudError)
})
