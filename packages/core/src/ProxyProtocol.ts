/**
 * The PROXY protocol, versions 1 (text) and 2 (binary), as HAProxy's
 * specification defines them: the header a proxy (HAProxy, a load
 * balancer) sends first on every connection it forwards, saying whose
 * connection it is. A server behind one reads it before anything else and
 * takes the client's address from it instead of the proxy's.
 *
 * Stage: accept, before read. `decode` is the decoder (a pure function of
 * the bytes seen so far, which is what makes it correct under any split:
 * `Decoder` feeds it reads as they come); `encodeV1` and `encodeV2` are
 * what a proxy sends. `wrap` makes of any socket one whose opening reads
 * the header first, under a deadline (`Config.proxyHeaderDeadline`), and
 * which declares the addresses it learned (`Transport.Capabilities`): a
 * listener with the PROXY protocol on wraps each socket it accepts
 * (`@socket-to-me/node`'s `NodeTransport.makeServer({ proxyProtocol })`).
 * A header is only ever read where a listener was told to expect one:
 * anywhere else, it is the app's bytes like any other.
 *
 * A connection whose first bytes are not a header, or whose header is
 * malformed, ends with `ProxyHeaderInvalid`; one that sends no complete
 * header within the deadline, with `HandshakeTimeout` (stage
 * `proxy-header`). A `LOCAL` header (a proxy's own health check), a v1
 * `UNKNOWN` one and a v2 one of an unspecified family keep the
 * connection's own addresses. v2's TLVs are checked to fit and otherwise
 * ignored.
 *
 * @example
 * ```ts
 * import { ProxyProtocol } from "@socket-to-me/core"
 *
 * const header = ProxyProtocol.encodeV1({
 *   _tag: "Proxied",
 *   version: 1,
 *   family: "TCP4",
 *   source: { host: "203.0.113.7", port: 51000 },
 *   destination: { host: "192.0.2.1", port: 7002 }
 * })
 * // "PROXY TCP4 203.0.113.7 192.0.2.1 51000 7002\r\n", then the client's bytes
 * export const decoded = ProxyProtocol.decode(header)
 * ```
 *
 * @since 0.1.0
 */
import type * as Arr from "effect/Array"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import * as Config from "./Config.ts"
import * as ConnectionError from "./ConnectionError.ts"
import * as SocketAddresses from "./SocketAddresses.ts"
import * as Transport from "./Transport.ts"

/**
 * An IP address and port, as a header carries them (IPv6 in its canonical
 * text form, RFC 5952).
 *
 * @since 0.1.0
 * @category models
 */
export interface Endpoint {
  readonly host: string
  readonly port: number
}

/**
 * A header for a TCP connection over IPv4 or IPv6: the client's address
 * (`source`) and the address it connected to at the proxy (`destination`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Proxied {
  readonly _tag: "Proxied"
  readonly version: 1 | 2
  readonly family: "TCP4" | "TCP6"
  readonly source: Endpoint
  readonly destination: Endpoint
}

/**
 * A v2 header for a connection over a Unix socket at the proxy: the two
 * socket paths (often empty for the client's).
 *
 * @since 0.1.0
 * @category models
 */
export interface ProxiedUnix {
  readonly _tag: "ProxiedUnix"
  readonly version: 2
  readonly source: string
  readonly destination: string
}

/**
 * A header that carries no client address: v2's `LOCAL` command (the
 * proxy's own connection, a health check), v1's `UNKNOWN`, or v2 with an
 * unspecified family. The connection's own addresses hold.
 *
 * @since 0.1.0
 * @category models
 */
export interface Local {
  readonly _tag: "Local"
  readonly version: 1 | 2
}

/**
 * A decoded header.
 *
 * @since 0.1.0
 * @category models
 */
export type Header = Proxied | ProxiedUnix | Local

/**
 * What the bytes seen so far are: the start of a header (`Need` more), a
 * complete header of `length` bytes (what follows is the client's), or not
 * a valid header (`Invalid`, and why).
 *
 * @since 0.1.0
 * @category models
 */
export type Decoded =
  | { readonly _tag: "Need" }
  | { readonly _tag: "Done"; readonly header: Header; readonly length: number }
  | { readonly _tag: "Invalid"; readonly detail: string }

/**
 * The longest v1 header, CRLF included, as the specification bounds it.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxV1Bytes = 107

/**
 * The longest v2 header: its 16 fixed bytes and the most its 16-bit length
 * can announce.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxV2Bytes = 16 + 0xffff

const v1Signature = Uint8Array.of(0x50, 0x52, 0x4f, 0x58, 0x59, 0x20) // "PROXY "
const v2Signature = Uint8Array.of(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a)
const CR = 0x0d
const LF = 0x0a

const need: Decoded = { _tag: "Need" }
const invalid = (detail: string): Decoded => ({ _tag: "Invalid", detail })
const done = (header: Header, length: number): Decoded => ({ _tag: "Done", header, length })
const notAHeader = invalid("not a PROXY header")

/**
 * Decodes the bytes a connection sent first. Checks run in the order of
 * the bytes and each one only on bytes present, so the answer for a
 * prefix never contradicts the answer for the whole: `Invalid` as soon as
 * a byte rules a header out, `Need` while one could still follow.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (bytes: Uint8Array): Decoded => {
  if (bytes.length === 0) return need
  if (bytes[0] === v1Signature[0]) return decodeV1(bytes)
  if (bytes[0] === v2Signature[0]) return decodeV2(bytes)
  return notAHeader
}

const matches = (bytes: Uint8Array, signature: Uint8Array): boolean => {
  const n = Math.min(bytes.length, signature.length)
  for (let i = 0; i < n; i++) {
    if (bytes[i] !== signature[i]) return false
  }
  return true
}

const decodeV1 = (bytes: Uint8Array): Decoded => {
  if (!matches(bytes, v1Signature)) return notAHeader
  const end = Math.min(bytes.length, maxV1Bytes)
  for (let i = v1Signature.length; i < end; i++) {
    const byte = bytes[i]!
    if (bytes[i - 1] === CR && byte !== LF) return invalid("v1 line has a CR not followed by LF")
    if (byte === LF) {
      if (bytes[i - 1] !== CR) return invalid("v1 line ends without CR")
      return decodeV1Line(String.fromCharCode(...bytes.subarray(0, i - 1)), i + 1)
    }
    if (byte !== CR && (byte < 0x20 || byte > 0x7e)) return invalid("v1 line has a byte that is not printable ASCII")
  }
  return bytes.length >= maxV1Bytes ? invalid(`v1 line longer than ${maxV1Bytes} bytes`) : need
}

const decodeV1Line = (line: string, length: number): Decoded => {
  const fields = line.split(" ")
  const family = fields[1]!
  if (family === "UNKNOWN") return done({ _tag: "Local", version: 1 }, length)
  if (family !== "TCP4" && family !== "TCP6") return invalid(`v1 protocol ${JSON.stringify(family)} is not TCP4, TCP6 or UNKNOWN`)
  if (fields.length !== 6) return invalid("v1 line needs 4 addresses and ports after its protocol, one space apart")
  const parse = family === "TCP4" ? parseIpv4Text : parseIpv6Text
  const source = parse(fields[2]!)
  const destination = parse(fields[3]!)
  if (source === undefined) return invalid(`v1 source ${JSON.stringify(fields[2])} is not an ${family} address`)
  if (destination === undefined) return invalid(`v1 destination ${JSON.stringify(fields[3])} is not an ${family} address`)
  const sourcePort = parsePort(fields[4]!)
  const destinationPort = parsePort(fields[5]!)
  if (sourcePort === undefined) return invalid(`v1 source port ${JSON.stringify(fields[4])} is not a port`)
  if (destinationPort === undefined) return invalid(`v1 destination port ${JSON.stringify(fields[5])} is not a port`)
  return done({
    _tag: "Proxied",
    version: 1,
    family,
    source: { host: source, port: sourcePort },
    destination: { host: destination, port: destinationPort }
  }, length)
}

// v2: the command (low nibble of byte 12) and the family (byte 13).
const commandLocal = 0x0
const commandProxy = 0x1
const familyUnspec = 0x0
const familyInet = 0x1
const familyInet6 = 0x2
const familyUnix = 0x3
const transportUnspec = 0x0
const transportDgram = 0x2
// The address block each family needs: two addresses and two ports, or two paths.
const addressBytes = [0, 12, 36, 216] as const
const unixPathBytes = 108

const decodeV2 = (bytes: Uint8Array): Decoded => {
  if (!matches(bytes, v2Signature)) return notAHeader
  if (bytes.length <= 12) return need
  const version = bytes[12]! >> 4
  const command = bytes[12]! & 0xf
  if (version !== 2) return invalid(`v2 version ${version} is not 2`)
  if (command !== commandLocal && command !== commandProxy) return invalid(`v2 command ${command} is not LOCAL or PROXY`)
  if (bytes.length <= 13) return need
  const family = bytes[13]! >> 4
  const transport = bytes[13]! & 0xf
  if (family > familyUnix) return invalid(`v2 address family ${family} is unknown`)
  if (transport > transportDgram) return invalid(`v2 transport ${transport} is unknown`)
  if (bytes.length < 16) return need
  const bodyLength = (bytes[14]! << 8) | bytes[15]!
  const length = 16 + bodyLength
  // Only a PROXY command's addresses are used; those of a LOCAL one, and
  // an unspecified family or transport, are ignored, as the specification asks.
  const used = command === commandProxy && family !== familyUnspec && transport !== transportUnspec
  if (used && transport === transportDgram) return invalid("v2 header is for a datagram, not a stream connection")
  const needed = used ? addressBytes[family as 1 | 2 | 3] : 0
  if (bodyLength < needed) return invalid(`v2 address block of ${bodyLength} bytes is shorter than the ${needed} its family needs`)
  if (bytes.length < length) return need
  if (!used) return done({ _tag: "Local", version: 2 }, length)
  const tlvs = checkTlvs(bytes, 16 + needed, length)
  if (tlvs !== undefined) return invalid(tlvs)
  const view = new DataView(bytes.buffer, bytes.byteOffset, length)
  if (family === familyUnix) {
    return done({
      _tag: "ProxiedUnix",
      version: 2,
      source: unixPath(bytes.subarray(16, 16 + unixPathBytes)),
      destination: unixPath(bytes.subarray(16 + unixPathBytes, 16 + 2 * unixPathBytes))
    }, length)
  }
  const size = family === familyInet ? 4 : 16
  const format = family === familyInet ? formatIpv4 : formatIpv6
  return done({
    _tag: "Proxied",
    version: 2,
    family: family === familyInet ? "TCP4" : "TCP6",
    source: { host: format(bytes.subarray(16, 16 + size)), port: view.getUint16(16 + 2 * size) },
    destination: { host: format(bytes.subarray(16 + size, 16 + 2 * size)), port: view.getUint16(18 + 2 * size) }
  }, length)
}

// TLVs (type, 16-bit length, value) must fill the rest of the header exactly.
const checkTlvs = (bytes: Uint8Array, from: number, end: number): string | undefined => {
  let at = from
  while (at < end) {
    if (end - at < 3) return "v2 TLV is cut short by the end of the header"
    const length = (bytes[at + 1]! << 8) | bytes[at + 2]!
    if (at + 3 + length > end) return "v2 TLV runs past the end of the header"
    at += 3 + length
  }
  return undefined
}

const unixPath = (bytes: Uint8Array): string => {
  const nul = bytes.indexOf(0)
  return new TextDecoder().decode(nul < 0 ? bytes : bytes.subarray(0, nul))
}

const parsePort = (text: string): number | undefined => {
  if (!/^(?:0|[1-9][0-9]{0,4})$/.test(text)) return undefined
  const port = Number(text)
  return port <= 0xffff ? port : undefined
}

const parseIpv4 = (text: string): Uint8Array | undefined => {
  const parts = text.split(".")
  if (parts.length !== 4) return undefined
  const bytes = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    // No leading zeros: "010" is octal to some parsers, decimal to others.
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(parts[i]!)) return undefined
    const value = Number(parts[i])
    if (value > 255) return undefined
    bytes[i] = value
  }
  return bytes
}

const parseIpv6 = (text: string): Uint8Array | undefined => {
  if (text.length === 0 || text.length > 45) return undefined
  const halves = text.split("::")
  if (halves.length > 2) return undefined
  const groupsOf = (part: string): Array<number> | undefined => {
    if (part === "") return []
    const groups: Array<number> = []
    const pieces = part.split(":")
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!
      if (i === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseIpv4(piece)
        if (v4 === undefined) return undefined
        groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!)
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return undefined
        groups.push(parseInt(piece, 16))
      }
    }
    return groups
  }
  const head = groupsOf(halves[0]!)
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : []
  if (head === undefined || tail === undefined) return undefined
  // An embedded IPv4 address may only end the address.
  if (halves.length === 2 && halves[0]!.includes(".")) return undefined
  const missing = 8 - head.length - tail.length
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail]
  const bytes = new Uint8Array(16)
  for (let i = 0; i < 8; i++) {
    bytes[2 * i] = groups[i]! >> 8
    bytes[2 * i + 1] = groups[i]! & 0xff
  }
  return bytes
}

const parseIpv4Text = (text: string): string | undefined => {
  const bytes = parseIpv4(text)
  return bytes === undefined ? undefined : formatIpv4(bytes)
}

const parseIpv6Text = (text: string): string | undefined => {
  const bytes = parseIpv6(text)
  return bytes === undefined ? undefined : formatIpv6(bytes)
}

const formatIpv4 = (bytes: Uint8Array): string => `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`

// RFC 5952: lower case, no leading zeros, the longest run of two or more
// zero groups (the first of equals) as "::", and an IPv4-mapped address
// with its IPv4 part dotted, as Node reports it.
const formatIpv6 = (bytes: Uint8Array): string => {
  const groups: Array<number> = []
  for (let i = 0; i < 8; i++) groups.push((bytes[2 * i]! << 8) | bytes[2 * i + 1]!)
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return `::ffff:${formatIpv4(bytes.subarray(12))}`
  }
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = groups.map((group) => group.toString(16))
  if (bestStart < 0) return hex.join(":")
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`
}

/**
 * What a decoder fed with reads has: the start of a header (`Need`), a
 * complete one and the bytes after it (`rest`, the client's), or not a
 * header (`Invalid`).
 *
 * @since 0.1.0
 * @category models
 */
export type Step =
  | { readonly _tag: "Need" }
  | { readonly _tag: "Done"; readonly header: Header; readonly rest: Uint8Array }
  | { readonly _tag: "Invalid"; readonly detail: string }

/**
 * Feeds `decode` with a connection's reads as they arrive. What it keeps
 * is at most one header (`maxV2Bytes`) and the read that completed it; a
 * header that arrives in one read, as a proxy sends it, is decoded in
 * place, without a copy.
 *
 * @since 0.1.0
 * @category decoding
 */
export class Decoder {
  private buffer: Uint8Array = new Uint8Array(0)
  private size = 0

  /** Whether part of a header has been read. */
  get started(): boolean {
    return this.size > 0
  }

  /** Adds one read; once it returned `Done` or `Invalid`, the decoder is spent. */
  push(chunk: Uint8Array): Step {
    let bytes: Uint8Array
    if (this.size === 0) {
      bytes = chunk
    } else {
      if (this.size + chunk.byteLength > this.buffer.byteLength) {
        const grown = new Uint8Array(Math.max(this.buffer.byteLength * 2, this.size + chunk.byteLength))
        grown.set(this.buffer.subarray(0, this.size))
        this.buffer = grown
      }
      this.buffer.set(chunk, this.size)
      bytes = this.buffer.subarray(0, this.size + chunk.byteLength)
    }
    const decoded = decode(bytes)
    switch (decoded._tag) {
      case "Done":
        return { _tag: "Done", header: decoded.header, rest: bytes.subarray(decoded.length) }
      case "Invalid":
        return decoded
      case "Need": {
        if (this.size === 0) {
          this.buffer = new Uint8Array(Math.max(256, chunk.byteLength * 2))
          this.buffer.set(chunk)
        }
        this.size += chunk.byteLength
        return decoded
      }
    }
  }
}

const encoder = new TextEncoder()

/**
 * The v1 (text) form of `header`. A `Local` header is `PROXY UNKNOWN`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeV1 = (header: Proxied | Local): Uint8Array =>
  encoder.encode(
    header._tag === "Local"
      ? "PROXY UNKNOWN\r\n"
      : `PROXY ${header.family} ${header.source.host} ${header.destination.host} ${header.source.port} ${header.destination.port}\r\n`
  )

/**
 * A v2 TLV: a type and its value.
 *
 * @since 0.1.0
 * @category models
 */
export interface Tlv {
  readonly type: number
  readonly value: Uint8Array
}

/**
 * The v2 (binary) form of `header`, with `tlvs` after its addresses. A
 * `Local` header is the `LOCAL` command.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeV2 = (header: Header, tlvs: ReadonlyArray<Tlv> = []): Uint8Array => {
  const addresses = new Uint8Array(header._tag === "Local" ? 0 : header._tag === "ProxiedUnix" ? 216 : header.family === "TCP4" ? 12 : 36)
  let familyByte = 0x00
  if (header._tag === "ProxiedUnix") {
    familyByte = (familyUnix << 4) | 0x1
    addresses.set(encoder.encode(header.source).subarray(0, unixPathBytes - 1), 0)
    addresses.set(encoder.encode(header.destination).subarray(0, unixPathBytes - 1), unixPathBytes)
  } else if (header._tag === "Proxied") {
    const v4 = header.family === "TCP4"
    familyByte = ((v4 ? familyInet : familyInet6) << 4) | 0x1
    const parse = v4 ? parseIpv4 : parseIpv6
    const size = v4 ? 4 : 16
    addresses.set(parse(header.source.host) ?? new Uint8Array(size), 0)
    addresses.set(parse(header.destination.host) ?? new Uint8Array(size), size)
    const view = new DataView(addresses.buffer)
    view.setUint16(2 * size, header.source.port)
    view.setUint16(2 * size + 2, header.destination.port)
  }
  const tlvBytes = tlvs.reduce((n, tlv) => n + 3 + tlv.value.byteLength, 0)
  const out = new Uint8Array(16 + addresses.byteLength + tlvBytes)
  out.set(v2Signature)
  out[12] = 0x20 | (header._tag === "Local" ? commandLocal : commandProxy)
  out[13] = familyByte
  const bodyLength = addresses.byteLength + tlvBytes
  out[14] = bodyLength >> 8
  out[15] = bodyLength & 0xff
  out.set(addresses, 16)
  let at = 16 + addresses.byteLength
  for (const tlv of tlvs) {
    out[at] = tlv.type
    out[at + 1] = tlv.value.byteLength >> 8
    out[at + 2] = tlv.value.byteLength & 0xff
    out.set(tlv.value, at + 3)
    at += 3 + tlv.value.byteLength
  }
  return out
}

/**
 * The connection's addresses by `header`: the client's as the remote, the
 * one it reached at the proxy as the local; `undefined` for a `Local`
 * header, which keeps the connection's own. A Unix client's is its path,
 * or `unix` when it has none.
 *
 * @since 0.1.0
 * @category accessors
 */
export const addresses = (header: Header): SocketAddresses.Addresses | undefined => {
  switch (header._tag) {
    case "Local":
      return undefined
    case "ProxiedUnix":
      return { local: header.destination || "unix", remote: header.source || "unix" }
    case "Proxied":
      return {
        local: SocketAddresses.format(header.destination.host, header.destination.port),
        remote: SocketAddresses.format(header.source.host, header.source.port)
      }
  }
}

/**
 * Options of `read` and `wrap`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The header must be complete within this time of the read's start. Default `Config.proxyHeaderDeadline`. */
  readonly deadline?: Duration.Input | undefined
}

/**
 * What `read` read: the header, and the bytes after it (the client's),
 * read with it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Received {
  readonly header: Header
  readonly rest: ReadonlyArray<Uint8Array>
}

const openError = (reason: ConnectionError.HandshakeTimeout | ConnectionError.ProxyHeaderInvalid) =>
  new Socket.SocketError({ reason: new Socket.SocketOpenError({ kind: "Unknown", cause: reason }) })

const textEncoder = new TextEncoder()
const bytesOf = (chunk: Uint8Array | string): Uint8Array => typeof chunk === "string" ? textEncoder.encode(chunk) : chunk

/**
 * Reads a header with `pull` (a socket reader's), within the deadline. A
 * header that is not one, or is malformed, fails with a `SocketOpenError`
 * whose cause is a `ProxyHeaderInvalid`, and so does a connection that
 * ends inside one; one not complete in time, with a `HandshakeTimeout`.
 * A connection that ends before its first byte fails as `pull` did (an
 * orderly end). The reads after the header are the caller's.
 *
 * @since 0.1.0
 * @category reading
 */
export const read = (
  pull: Effect.Effect<Arr.NonEmptyReadonlyArray<Uint8Array | string>, Socket.SocketError>,
  options: Options = {}
): Effect.Effect<Received, Socket.SocketError> => {
  const deadline = Duration.fromInputUnsafe(options.deadline ?? Config.proxyHeaderDeadline)
  const decoder = new Decoder()
  const loop: Effect.Effect<Received, Socket.SocketError> = Effect.flatMap(
    Effect.catch(pull, (error) =>
      Effect.fail(
        decoder.started && error.reason._tag === "SocketCloseError"
          ? openError(new ConnectionError.ProxyHeaderInvalid({ detail: "the connection ended inside the PROXY header" }))
          : error
      )),
    (chunks) => {
      for (let i = 0; i < chunks.length; i++) {
        const step = decoder.push(bytesOf(chunks[i]!))
        if (step._tag === "Invalid") return Effect.fail(openError(new ConnectionError.ProxyHeaderInvalid({ detail: step.detail })))
        if (step._tag === "Done") {
          const rest = [step.rest, ...chunks.slice(i + 1).map(bytesOf)].filter((chunk) => chunk.byteLength > 0)
          return Effect.succeed({ header: step.header, rest })
        }
      }
      return loop
    }
  )
  return Effect.timeoutOrElse(loop, {
    duration: deadline,
    orElse: () => Effect.fail(openError(new ConnectionError.HandshakeTimeout({ stage: "proxy-header", after: deadline })))
  })
}

// A socket whose opening reads the header first. Its writes are the
// wrapped socket's own (a direct writer included): only the reader is
// wrapped, to hand over the bytes read with the header first.
class ProxiedSocket implements Transport.Transport {
  readonly [Socket.TypeId]: typeof Socket.TypeId = Socket.TypeId
  readonly socket: Socket.Socket
  readonly options: Options
  learned: SocketAddresses.Addresses | undefined = undefined

  constructor(socket: Socket.Socket, options: Options) {
    this.socket = socket
    this.options = options
  }

  get reader(): Effect.Effect<Socket.Reader, Socket.SocketError, Scope.Scope> {
    return Effect.flatMap(this.socket.reader, (reader) =>
      Effect.map(read(reader.pull, this.options), ({ header, rest }) => {
        this.learned = addresses(header)
        if (rest.length === 0) return reader
        let first: Arr.NonEmptyReadonlyArray<Uint8Array> | undefined = rest as Arr.NonEmptyReadonlyArray<Uint8Array>
        const pull = Effect.suspend(() => {
          if (first === undefined) return reader.pull
          const chunks = first
          first = undefined
          return Effect.succeed(chunks)
        })
        return { pull, upgrade: reader.upgrade }
      }))
  }

  get writer(): Socket.Socket["writer"] {
    return this.socket.writer
  }

  get [Transport.TypeId](): Transport.Capabilities {
    const declared = Transport.capabilities(this.socket)
    const failure = declared.failure
    return {
      failure: (cause, during) => ConnectionError.isHandshakeFailure(cause) ? cause : failure(cause, during),
      directWriter: declared.directWriter,
      addresses: () => this.learned
    }
  }
}

/**
 * `socket`, whose reader, when acquired, first reads a PROXY header
 * (`read`) and then gives the bytes after it; it declares the addresses
 * the header gave (`Transport.Capabilities.addresses`) and the header's
 * failures as its own (`HandshakeTimeout`, `ProxyHeaderInvalid`). A
 * listener applies it to each socket it accepts when told the PROXY
 * protocol is on.
 *
 * @since 0.1.0
 * @category constructors
 */
export const wrap = (socket: Socket.Socket, options: Options = {}): Transport.Transport =>
  new ProxiedSocket(socket, options)
