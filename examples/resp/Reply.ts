// RESP2 on the wire, the server's side: what a command is once decoded and
// what a reply is before it is encoded, and the encoding itself, byte for
// byte as redis-server writes it. Text in replies (statuses, errors) is
// Latin-1, one character per byte, as Redis's C strings are: an error that
// quotes a client's byte quotes that byte, not its UTF-8 encoding.

/** A decoded command: its arguments, the name first, never empty. Multibulk (`*2\r\n$4\r\nECHO...`) and inline (`ECHO hi\r\n`) commands decode to the same. */
export type Command = ReadonlyArray<Uint8Array>

/** A reply, before encoding. */
export type Reply =
  | { readonly _tag: "Simple"; readonly text: string }
  | { readonly _tag: "Error"; readonly text: string }
  | { readonly _tag: "Integer"; readonly value: number | bigint }
  | { readonly _tag: "Bulk"; readonly value: Uint8Array }
  | { readonly _tag: "Null" }
  | { readonly _tag: "Array"; readonly items: ReadonlyArray<Reply> }

/** `+text\r\n`. */
export const simple = (text: string): Reply => ({ _tag: "Simple", text })

/** `-text\r\n`; `text` starts with its code (`ERR`, `WRONGTYPE`, ...). */
export const error = (text: string): Reply => ({ _tag: "Error", text })

/** `:n\r\n`. */
export const integer = (value: number | bigint): Reply => ({ _tag: "Integer", value })

/** `$len\r\nbytes\r\n`. */
export const bulk = (value: Uint8Array): Reply => ({ _tag: "Bulk", value })

/** `*n\r\n` and the items. */
export const array = (items: ReadonlyArray<Reply>): Reply => ({ _tag: "Array", items })

/** The replies Redis keeps as shared constants. */
export const ok = simple("OK")
/** `+PONG`. */
export const pong = simple("PONG")
/** `$-1\r\n`: the null bulk string (a missing key). */
export const nullBulk: Reply = { _tag: "Null" }
/** `:0`. */
export const zero = integer(0)
/** `:1`. */
export const one = integer(1)
/** `-ERR syntax error`. */
export const syntaxError = error("ERR syntax error")
/** `-ERR value is not an integer or out of range`. */
export const notAnInteger = error("ERR value is not an integer or out of range")

/** A Latin-1 string as bytes (one byte per character; characters past U+00FF are not expected). */
export const latin1 = (text: string): Uint8Array => {
  const bytes = new Uint8Array(text.length)
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i)
  return bytes
}

/** Bytes as a Latin-1 string: lossless, so it also serves as a map key for binary keys. */
export const fromLatin1 = (bytes: Uint8Array): string => {
  let text = ""
  // In slices: `fromCharCode` takes its arguments on the stack.
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192) as unknown as Array<number>)
  }
  return text
}

/**
 * Redis's `string2ll`: a decimal 64-bit integer, strictly: an optional `-`,
 * no `+`, no spaces, no leading zeros (`0` alone), at most 20 characters.
 * What every integer argument and every `*`/`$` header is parsed with.
 */
export const parseInteger = (bytes: Uint8Array, from = 0, to = bytes.length): bigint | undefined => {
  const length = to - from
  if (length === 0 || length >= 21) return undefined
  if (length === 1 && bytes[from] === 0x30) return 0n
  let i = from
  const negative = bytes[i] === 0x2d
  if (negative && ++i === to) return undefined
  if (bytes[i]! < 0x31 || bytes[i]! > 0x39) return undefined
  // Up to 18 digits fit a double exactly; longer ones go through BigInt.
  let small = 0
  for (let j = i; j < to; j++) {
    const digit = bytes[j]! - 0x30
    if (digit < 0 || digit > 9) return undefined
    small = small * 10 + digit
  }
  const value = to - i <= 15 ? BigInt(small) : BigInt(fromLatin1(bytes.subarray(i, to)))
  const signed = negative ? -value : value
  return signed < minInt64 || signed > maxInt64 ? undefined : signed
}

/** The range of Redis's integers (C `long long`). */
export const maxInt64 = 2n ** 63n - 1n
/** The smallest Redis integer. */
export const minInt64 = -(2n ** 63n)

const CRLF = [0x0d, 0x0a] as const

/**
 * Appends encoded replies to one growing buffer, so that every reply to one
 * read leaves in one write. `take` hands over what was written and starts
 * afresh.
 */
export class Encoder {
  private buffer = new Uint8Array(4096)
  private length = 0

  /** Bytes written since the last `take`. */
  get size(): number {
    return this.length
  }

  /** Encodes `reply` after what is written. */
  write(reply: Reply): void {
    switch (reply._tag) {
      case "Simple":
        return this.line(0x2b, reply.text)
      case "Error":
        return this.line(0x2d, reply.text)
      case "Integer":
        return this.line(0x3a, String(reply.value))
      case "Bulk":
        this.line(0x24, String(reply.value.length))
        this.bytes(reply.value)
        return this.bytes(CRLF)
      case "Null":
        return this.line(0x24, "-1")
      case "Array":
        this.line(0x2a, String(reply.items.length))
        for (const item of reply.items) this.write(item)
    }
  }

  /** Appends bytes already encoded (a published message). */
  bytes(bytes: ArrayLike<number>): void {
    this.reserve(bytes.length)
    this.buffer.set(bytes, this.length)
    this.length += bytes.length
  }

  /** What was written since the last `take`, as a buffer of its own. */
  take(): Uint8Array {
    const out = this.buffer.slice(0, this.length)
    this.length = 0
    // A buffer grown for one large reply is not kept for the connection's life.
    if (this.buffer.length > 64 * 1024) this.buffer = new Uint8Array(4096)
    return out
  }

  private line(prefix: number, text: string): void {
    this.reserve(text.length + 3)
    const buffer = this.buffer
    let at = this.length
    buffer[at++] = prefix
    for (let i = 0; i < text.length; i++) buffer[at++] = text.charCodeAt(i)
    buffer[at++] = 0x0d
    buffer[at++] = 0x0a
    this.length = at
  }

  private reserve(extra: number): void {
    const needed = this.length + extra
    if (needed <= this.buffer.length) return
    const grown = new Uint8Array(Math.max(needed, this.buffer.length * 2))
    grown.set(this.buffer.subarray(0, this.length))
    this.buffer = grown
  }
}

/** One reply encoded alone. */
export const encode = (reply: Reply): Uint8Array => {
  const encoder = new Encoder()
  encoder.write(reply)
  return encoder.take()
}
