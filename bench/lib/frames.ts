/**
 * The wire form of a files-protocol frame (docs/protocols/files.md), for
 * the benchmark's clients: a u32 length, then the type byte and the payload.
 */

/** Type byte of a control frame (one JSON message). */
export const controlType = 0x01

/** Type byte of a data frame (file bytes). */
export const dataType = 0x02

/** One frame of `type` around `payload`. */
export const frame = (type: number, payload: Buffer): Buffer => {
  const out = Buffer.allocUnsafe(5 + payload.length)
  out.writeUInt32BE(payload.length + 1, 0)
  out[4] = type
  payload.copy(out, 5)
  return out
}

/** A control frame carrying `message` as JSON. */
export const control = (message: object): Buffer => frame(controlType, Buffer.from(JSON.stringify(message)))
