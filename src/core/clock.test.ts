import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { isoMicro, isoSeconds, parseTime, systemClock } from './clock.ts'

const T = Date.UTC(2026, 10, 24, 20, 15, 46, 123) // 2026-11-24T20:15:46.123Z

describe('isoMicro', () => {
  it('formats YYYY-MM-DDTHH:MM:SS.ffffffZ', () => {
    assert.equal(isoMicro(T), '2026-11-24T20:15:46.123000Z')
    assert.equal(isoMicro(0), '1970-01-01T00:00:00.000000Z')
    assert.equal(isoMicro(Date.UTC(2026, 0, 2, 3, 4, 5, 6)), '2026-01-02T03:04:05.006000Z')
    for (let i = 0; i < 50; i++) {
      assert.match(isoMicro(Math.floor(Math.random() * 4e12)), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/)
    }
  })
  it('round-trips through parseTime at millisecond precision', () => {
    assert.equal(parseTime(isoMicro(T)), T)
  })
})

describe('isoSeconds', () => {
  it('formats YYYY-MM-DDTHH:MM:SSZ, truncating', () => {
    assert.equal(isoSeconds(T), '2026-11-24T20:15:46Z')
    assert.equal(isoSeconds(Date.UTC(2026, 10, 24, 20, 15, 46, 999)), '2026-11-24T20:15:46Z')
  })
})

describe('parseTime', () => {
  it('reads the forms OpenStack clients send', () => {
    assert.equal(parseTime('2026-11-24T20:15:46Z'), Date.UTC(2026, 10, 24, 20, 15, 46))
    assert.equal(parseTime('2026-11-24T20:15:46.123456Z'), T)
    assert.equal(parseTime('2026-11-24T20:15:46.123000Z'), T)
    assert.equal(parseTime('2026-11-24T20:15Z'), Date.UTC(2026, 10, 24, 20, 15))
    assert.equal(parseTime('2026-11-24'), Date.UTC(2026, 10, 24))
  })
  it('takes a time without a zone as UTC', () => {
    assert.equal(parseTime('2026-11-24T20:15:46'), Date.UTC(2026, 10, 24, 20, 15, 46))
    assert.equal(parseTime('2026-11-24 20:15:46'), Date.UTC(2026, 10, 24, 20, 15, 46))
    assert.equal(parseTime('2026-11-24T20:15:46.123456'), T)
  })
  it('applies offsets', () => {
    assert.equal(parseTime('2026-11-24T21:15:46+01:00'), Date.UTC(2026, 10, 24, 20, 15, 46))
    assert.equal(parseTime('2026-11-24T21:15:46+0100'), Date.UTC(2026, 10, 24, 20, 15, 46))
    assert.equal(parseTime('2026-11-24T15:15:46-05:00'), Date.UTC(2026, 10, 24, 20, 15, 46))
  })
  it('returns NaN for what is not an ISO 8601 time', () => {
    for (const s of ['', 'now', 'garbage', '1795551346', '24/11/2026', '2026-11-24T20', '2026-11-24T20:15:46 Z',
      '2026-13-01T00:00:00Z', '2026-11-32T00:00:00Z', '2026-11-24T25:00:00Z', '2026-11-24T20:61:00Z',
      ' 2026-11-24T20:15:46Z', '2026-11-24T20:15:46Zjunk']) {
      assert.ok(Number.isNaN(parseTime(s)), JSON.stringify(s))
    }
  })
  it('returns NaN for days the month does not have', () => {
    assert.ok(Number.isNaN(parseTime('2026-02-30T00:00:00Z')))
    assert.ok(Number.isNaN(parseTime('2026-04-31')))
    assert.ok(Number.isNaN(parseTime('2026-02-29T12:00:00Z')))
    assert.equal(parseTime('2028-02-29T12:00:00Z'), Date.UTC(2028, 1, 29, 12)) // leap year
  })
})

describe('systemClock', () => {
  it('tells the time in epoch milliseconds', () => {
    const before = Date.now()
    const now = systemClock.now()
    assert.ok(now >= before && now <= Date.now())
  })
})
