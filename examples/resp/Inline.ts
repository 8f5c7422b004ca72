// Inline commands (`SET k "hello world"\r\n`, what people type into telnet
// and what redis-benchmark's PING_INLINE sends), split into arguments
// exactly as Redis's `sdssplitargs` does: blanks separate arguments; "..."
// takes \n \r \t \b \a \\ \" and \xHH escapes; '...' takes only \'; a quote
// may start in the middle of an argument but must be followed by a blank
// or the end of the line. Unbalanced quotes are a protocol error.

const isSpace = (byte: number) => byte === 0x20 || (byte >= 0x09 && byte <= 0x0d)
const isHex = (byte: number) =>
  (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66) || (byte >= 0x41 && byte <= 0x46)
const hexValue = (byte: number) => byte <= 0x39 ? byte - 0x30 : (byte | 0x20) - 0x61 + 10

const escapes: Record<number, number> = { 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09, 0x62: 0x08, 0x61: 0x07 }

/**
 * The arguments of one inline line (its terminator removed), or `undefined`
 * for unbalanced quotes. The line holds no NUL byte (the decoder never
 * completes such a line, as Redis never finds its end).
 */
export const split = (line: Uint8Array): Array<Uint8Array> | undefined => {
  const args: Array<Uint8Array> = []
  const length = line.length
  // `at(i)` is 0 past the end, as the C string's terminator is.
  const at = (i: number) => i < length ? line[i]! : 0
  let p = 0
  while (true) {
    while (p < length && isSpace(line[p]!)) p++
    if (p >= length) return args
    const current: Array<number> = []
    let inDouble = false
    let inSingle = false
    let done = false
    while (!done) {
      const c = at(p)
      if (inDouble) {
        if (c === 0x5c && at(p + 1) === 0x78 && isHex(at(p + 2)) && isHex(at(p + 3))) {
          current.push(hexValue(at(p + 2)) * 16 + hexValue(at(p + 3)))
          p += 3
        } else if (c === 0x5c && at(p + 1) !== 0) {
          p++
          current.push(escapes[at(p)] ?? at(p))
        } else if (c === 0x22) {
          // A closing quote must be followed by a blank or the end.
          if (at(p + 1) !== 0 && !isSpace(at(p + 1))) return undefined
          done = true
        } else if (c === 0) {
          return undefined
        } else {
          current.push(c)
        }
      } else if (inSingle) {
        if (c === 0x5c && at(p + 1) === 0x27) {
          p++
          current.push(0x27)
        } else if (c === 0x27) {
          if (at(p + 1) !== 0 && !isSpace(at(p + 1))) return undefined
          done = true
        } else if (c === 0) {
          return undefined
        } else {
          current.push(c)
        }
      } else {
        switch (c) {
          // Only these end an unquoted argument (not \v or \f, which are
          // still skipped between arguments): Redis's own asymmetry.
          case 0x20:
          case 0x0a:
          case 0x0d:
          case 0x09:
          case 0:
            done = true
            break
          case 0x22:
            inDouble = true
            break
          case 0x27:
            inSingle = true
            break
          default:
            current.push(c)
        }
      }
      if (p < length) p++
    }
    args.push(Uint8Array.from(current))
  }
}
