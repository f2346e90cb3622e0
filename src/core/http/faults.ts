import type { FastifyReply } from 'fastify'
import { type CloudError, statusTitle } from '../errors.ts'

/** The error-body dialects of the APIs Cumulo speaks. */
export type Dialect = 'keystone' | 'nova' | 'cinder' | 'neutron' | 'glance' | 'swift' | 's3'

/** Nova and Cinder name the fault object after the status (nova/api/openstack/wsgi.py). */
const NOVA_FAULT: Record<number, string> = {
  400: 'badRequest', 401: 'unauthorized', 403: 'forbidden', 404: 'itemNotFound',
  405: 'badMethod', 409: 'conflictingRequest', 413: 'overLimit', 415: 'badMediaType',
  429: 'overLimit', 501: 'notImplemented', 503: 'serviceUnavailable',
}

const esc = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`)

/** Renders a CloudError in the API's own error shape. */
export function renderFault(reply: FastifyReply, dialect: Dialect, err: CloudError, requestId: string): void {
  const status = err.status
  if (err.headers) reply.headers(err.headers)
  if (status === 401 && dialect === 'keystone') {
    reply.header('www-authenticate', `Keystone uri="${'/v3'}"`)
  }
  switch (dialect) {
    case 'keystone':
      reply.code(status).type('application/json')
        .send({ error: { code: status, title: statusTitle(status), message: err.message } })
      return
    case 'nova':
    case 'cinder':
      reply.code(status).type('application/json')
        .send({ [NOVA_FAULT[status] ?? (dialect === 'nova' ? 'computeFault' : 'computeFault')]:
          { code: status, message: err.message } })
      return
    case 'neutron':
      reply.code(status).type('application/json')
        .send({ NeutronError: { type: err.code, message: err.message, detail: '' } })
      return
    case 'glance':
      reply.code(status).type('application/json')
        .send({ code: `${status} ${statusTitle(status)}`, title: statusTitle(status), message: err.message })
      return
    case 'swift':
      reply.code(status).type('text/html; charset=UTF-8')
        .send(`<html><h1>${esc(statusTitle(status))}</h1><p>${esc(err.message)}</p></html>`)
      return
    case 's3':
      reply.code(status).type('application/xml')
        .send(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${esc(err.code)}</Code>` +
          `<Message>${esc(err.message)}</Message><RequestId>${esc(requestId)}</RequestId></Error>`)
      return
  }
}
