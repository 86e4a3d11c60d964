// What the HTTP client does on the wire while an attempt runs, seen through Node's diagnostics
// channels: the SDK hides a stalled socket, an oversized body and Node's own error codes.

import { channel } from 'node:diagnostics_channel'
import type { ClientRequest } from 'node:http'
import type { Socket } from 'node:net'
import type { WireFacts } from './retry-policy.js'

const socketChannel = channel('net.client.socket')

/** Watches the sockets opened from now on; the result stops watching and destroys them, so none outlives its attempt. */
export function watchSockets(): () => void {
  const opened = new Set<Socket>()
  const track = (message: unknown): void => {
    const socket = (message as { socket?: Socket }).socket
    if (socket !== undefined) opened.add(socket)
  }
  socketChannel.subscribe(track)
  return () => {
    socketChannel.unsubscribe(track)
    for (const socket of opened) socket.destroy()
  }
}

/**
 * The most bytes (status line and headers included) that one IMDS response may take: far above any
 * real one (a token, a document, a PKCS7 of a few KB) and far below harm. The SDK reads a body
 * to its end, whatever its size.
 */
export const maxResponseBytes = 64 * 1024
export const maxResponseText = '64 KiB'

export interface ResponseLimit {
  /** Paths of the requests whose response went over the limit and was cut off. */
  readonly tooLarge: ReadonlySet<string>
  /** What each request (by path, the last one on it) showed on the wire, for classifyError. */
  readonly wire: ReadonlyMap<string, WireFacts>
  stop(): void
}

const requestChannel = channel('http.client.request.start')

/**
 * Watches every HTTP request made from now on. It records whether the request connected, its
 * status and its first error, as Node raised them: the SDK passes on only its own words for these.
 * And it counts every byte that each request receives, and destroys its socket
 * once the response goes over `maxBytes`. Node's http client reads its socket through 'data'
 * events, so another listener sees the same bytes; the count restarts with each request that
 * gets the socket, so a kept-alive socket is judged per response. It sees every request the
 * process makes while it runs: only IMDS requests are made during an attempt.
 */
export function limitResponses(maxBytes: number): ResponseLimit {
  const tooLarge = new Set<string>()
  const wire = new Map<string, { connected: boolean; status?: number; error?: unknown }>()
  const current = new WeakMap<Socket, { path: string; bytes: number }>()
  let stopped = false
  const count =
    (socket: Socket) =>
    (chunk: Buffer): void => {
      const response = current.get(socket)
      if (response === undefined || stopped) return
      response.bytes += chunk.length
      if (response.bytes > maxBytes) {
        tooLarge.add(response.path)
        socket.destroy()
      }
    }
  const watch = (request: ClientRequest, socket: Socket): void => {
    if (!current.has(socket)) socket.on('data', count(socket))
    current.set(socket, { path: request.path, bytes: 0 })
  }
  const record = (request: ClientRequest): void => {
    const facts: { connected: boolean; status?: number; error?: unknown } = { connected: false }
    wire.set(request.path, facts)
    const failed = (error: unknown): void => {
      facts.error ??= error
    }
    request.on('error', failed)
    const onSocket = (socket: Socket): void => {
      if (socket.connecting) socket.once('connect', () => (facts.connected = true))
      else facts.connected = true
    }
    if (request.socket !== null) onSocket(request.socket as Socket)
    else request.once('socket', (socket) => onSocket(socket as Socket))
    request.once('response', (response) => {
      facts.connected = true
      facts.status = response.statusCode
      response.on('error', failed)
    })
  }
  const onRequest = (message: unknown): void => {
    const request = (message as { request?: ClientRequest }).request
    if (request === undefined) return
    record(request)
    if (request.socket !== null) watch(request, request.socket as Socket)
    else request.once('socket', (socket) => watch(request, socket as Socket))
  }
  requestChannel.subscribe(onRequest)
  return {
    tooLarge,
    wire,
    stop: () => {
      stopped = true
      requestChannel.unsubscribe(onRequest)
    },
  }
}
