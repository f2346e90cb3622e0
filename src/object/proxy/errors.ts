// Errors of the Swift API. Swift answers with a status, sometimes a short text/plain body (the
// constraint checks) and otherwise swob's HTML page for the status; clients print that body.
// SwiftError covers the statuses CloudError has no kind for (411, 499, 507, …).
import { STATUS_CODES } from 'node:http'

/** swob's explanations for its default error pages. */
const EXPLANATIONS: Record<number, string> = {
  400: 'The server could not comply with the request since it is either malformed or otherwise incorrect.',
  401: 'This server could not verify that you are authorized to access the document you requested.',
  403: 'Access was denied to this resource.',
  404: 'The resource could not be found.',
  405: 'The method is not allowed for this resource.',
  408: 'The server has waited too long for the request to be sent by the client.',
  409: 'There was a conflict when trying to complete your request.',
  410: 'This resource is no longer available.',
  411: 'Length Required.',
  412: 'A precondition for this request was not met.',
  413: 'The body of your request was too large for this server.',
  416: 'The Range requested is not available.',
  422: 'The data sent in your request cannot be processed.',
  499: 'The client disconnected during request.',
  500: 'The server has either erred or is incapable of performing the requested operation.',
  501: 'The server is either unable to fulfill the request or does not support the requested method.',
  503: 'The server is currently unavailable. Please try again at a later time.',
  507: 'There was not enough space to save the resource. Drive: ',
}

/** Reason phrase of a status, including Swift's 499. */
export function reason(status: number): string {
  return status === 499 ? 'Client Disconnect' : STATUS_CODES[status] ?? 'Unknown'
}

/** swob's default HTML body for an error status. */
export function defaultBody(status: number): Buffer {
  const title = reason(status)
  const text = EXPLANATIONS[status] ?? ''
  return Buffer.from(`<html><h1>${title}</h1><p>${text}</p></html>`)
}

/** A Swift API error: its status, body and extra headers, rendered as Swift would. */
export class SwiftError extends Error {
  override readonly name = 'SwiftError'
  constructor(readonly status: number, readonly body: Buffer, readonly contentType: string,
              readonly headers: Record<string, string> = {}) {
    super(`${status} ${body.toString('utf8', 0, 200)}`)
  }

  /** An error with swob's default HTML page. */
  static status(status: number, headers: Record<string, string> = {}): SwiftError {
    return new SwiftError(status, defaultBody(status), 'text/html; charset=UTF-8', headers)
  }

  /** An error with a text/plain message (Swift's constraint errors). */
  static text(status: number, message: string, headers: Record<string, string> = {}): SwiftError {
    return new SwiftError(status, Buffer.from(message), 'text/plain; charset=UTF-8', headers)
  }
}
