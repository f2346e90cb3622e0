import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type NodeAnswer, bestResponse, haveQuorum, quorumSize } from './quorum.ts'

const a = (...statuses: number[]): NodeAnswer[] => statuses.map((status) => ({ status, headers: { s: String(status) }, body: Buffer.alloc(0) }))

describe('quorum', () => {
  it('quorum_size is ceil(n/2) as Swift', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(quorumSize), [1, 1, 2, 2, 3, 3])
  })

  it('have_quorum needs a quorum within one status class', () => {
    assert.equal(haveQuorum([201], 3), false)
    assert.equal(haveQuorum([201, 201], 3), true)
    assert.equal(haveQuorum([201, 404], 3), false)
    assert.equal(haveQuorum([404, 409], 3), true)
    assert.equal(haveQuorum([503, 503, 503], 3), false)
  })

  it('best_response: first class with a quorum, highest status in it; null without quorum', () => {
    const table: Array<[number[], number | null]> = [
      [[201, 201, 201], 201],
      [[201, 202, 201], 202],
      [[201, 201, 503], 201],
      [[201, 503, 503], null],
      [[404, 404, 201], 404],
      [[404, 409, 201], 409],
      [[204, 404, 503], null],
      [[503, 503, 503], null],
      [[201, 201, 201, 503], 201],
      [[201, 503], 201], // quorum of 2 is 1
    ]
    for (const [statuses, want] of table) {
      assert.equal(bestResponse(a(...statuses))?.status ?? null, want, `best of ${statuses}`)
    }
  })

  it('overrides apply only without a quorum, and a faked status is never the one returned', () => {
    assert.equal(bestResponse(a(204, 404, 404), { overrides: { 404: 204 } })?.status, 404)
    const best = bestResponse(a(204, 404, 503), { overrides: { 404: 204 } })
    assert.equal(best?.status, 204)
    assert.equal(best?.headers.s, '204')
    assert.equal(bestResponse(a(404, 404, 503), { overrides: { 404: 204 } })?.status, 404)
    assert.equal(bestResponse(a(404, 503, 503), { overrides: { 404: 204 } }), null)
  })
})
