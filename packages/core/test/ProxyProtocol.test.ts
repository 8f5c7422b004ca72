/**
 * The PROXY protocol decoder: what each valid form decodes to, every
 * malformed form and the reason it is refused with, and two properties:
 * every header survives its v1 and v2 encodings, and a decode does not
 * depend on how the bytes were split into reads (valid, corrupted or
 * random input alike).
 */
import { assert, describe, it } from "@effect/vitest"
import * as CodecProperties from "@socket-to-me/testkit/CodecProperties"
import * as Arbitrary from "effect/Arbitrary"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as ProxyProtocol from "../src/ProxyProtocol.ts"

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text)
const concat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.byteLength, 0))
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.byteLength
  }
  return out
}

const v2Signature = Uint8Array.of(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a)
/** A v2 header from its three variable fixed bytes and its body. */
const v2 = (verCmd: number, family: number, body: Uint8Array, length = body.byteLength) =>
  concat(v2Signature, Uint8Array.of(verCmd, family, length >> 8, length & 0xff), body)

const tcp4: ProxyProtocol.Proxied = {
  _tag: "Proxied",
  version: 1,
  family: "TCP4",
  source: { host: "203.0.113.7", port: 51000 },
  destination: { host: "192.0.2.1", port: 7002 }
}

const doneWith = (bytes: Uint8Array): { header: ProxyProtocol.Header; length: number } => {
  const decoded = ProxyProtocol.decode(bytes)
  if (decoded._tag !== "Done") throw new Error(`expected a header, got ${JSON.stringify(decoded)}`)
  return { header: decoded.header, length: decoded.length }
}

describe("ProxyProtocol.decode", () => {
  it("v1 TCP4, TCP6 (to its canonical form) and UNKNOWN; the client's bytes are not part of the header", () => {
    const line = "PROXY TCP4 203.0.113.7 192.0.2.1 51000 7002\r\n"
    assert.deepStrictEqual(doneWith(ascii(`${line}hello`)), { header: tcp4, length: line.length })
    assert.deepStrictEqual(doneWith(ascii("PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::1 1 65535\r\n")).header, {
      _tag: "Proxied",
      version: 1,
      family: "TCP6",
      source: { host: "2001:db8::1", port: 1 },
      destination: { host: "::1", port: 65535 }
    })
    assert.deepStrictEqual(doneWith(ascii("PROXY UNKNOWN\r\n")), { header: { _tag: "Local", version: 1 }, length: 15 })
    assert.deepStrictEqual(
      doneWith(ascii("PROXY UNKNOWN ffff:: 1.2.3.4 1 2\r\n")).header,
      { _tag: "Local", version: 1 }
    )
  })

  it("v2 PROXY over IPv4, IPv6 and Unix, with TLVs; LOCAL and unspecified families keep the connection's addresses", () => {
    const inet = Uint8Array.of(203, 0, 113, 7, 192, 0, 2, 1, 0xc7, 0x38, 0x1b, 0x5a)
    const tlv = Uint8Array.of(0x04, 0x00, 0x02, 0xab, 0xcd)
    assert.deepStrictEqual(doneWith(concat(v2(0x21, 0x11, concat(inet, tlv)), ascii("x"))), {
      header: { ...tcp4, version: 2 },
      length: 16 + 12 + 5
    })
    const inet6 = new Uint8Array(36)
    inet6.set([0x20, 0x01, 0x0d, 0xb8], 0)
    inet6[15] = 1
    inet6[31] = 1
    inet6.set([0, 80, 1, 0], 32)
    assert.deepStrictEqual(doneWith(v2(0x21, 0x21, inet6)).header, {
      _tag: "Proxied",
      version: 2,
      family: "TCP6",
      source: { host: "2001:db8::1", port: 80 },
      destination: { host: "::1", port: 256 }
    })
    const unix = new Uint8Array(216)
    unix.set(ascii("/run/client"), 0)
    unix.set(ascii("/run/chat.sock"), 108)
    assert.deepStrictEqual(doneWith(v2(0x21, 0x31, unix)).header, {
      _tag: "ProxiedUnix",
      version: 2,
      source: "/run/client",
      destination: "/run/chat.sock"
    })
    assert.deepStrictEqual(doneWith(v2(0x20, 0x00, new Uint8Array(0))), { header: { _tag: "Local", version: 2 }, length: 16 })
    // A LOCAL command's addresses, whatever they are, are not read.
    assert.deepStrictEqual(doneWith(v2(0x20, 0x11, Uint8Array.of(1, 2, 3))).header, { _tag: "Local", version: 2 })
    assert.deepStrictEqual(doneWith(v2(0x21, 0x00, new Uint8Array(4))).header, { _tag: "Local", version: 2 })
  })

  it("a header not complete yet needs more, from its first byte to its last", () => {
    for (const header of [ascii("PROXY TCP4 203.0.113.7 192.0.2.1 51000 7002\r\n"), ProxyProtocol.encodeV2(tcp4)]) {
      for (let n = 0; n < header.byteLength; n++) {
        assert.deepStrictEqual(ProxyProtocol.decode(header.subarray(0, n)), { _tag: "Need" }, `prefix of ${n} bytes`)
      }
    }
  })

  // Every way a header can be wrong, with the reason it is refused for.
  const malformed: ReadonlyArray<readonly [string, Uint8Array, string]> = [
    ["no header: an app's first bytes", ascii("GET / HTTP/1.1\r\n"), "not a PROXY header"],
    ["no header: a TLS ClientHello", Uint8Array.of(0x16, 0x03, 0x01, 0x02, 0x00), "not a PROXY header"],
    ["v1 signature broken", ascii("PROXY-TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), "not a PROXY header"],
    ["v1 in lower case", ascii("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), "not a PROXY header"],
    ["v1 unknown protocol", ascii("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"), "is not TCP4, TCP6 or UNKNOWN"],
    ["v1 empty protocol", ascii("PROXY \r\n"), "is not TCP4, TCP6 or UNKNOWN"],
    ["v1 LF without CR", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), "ends without CR"],
    ["v1 CR without LF", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX"), "CR not followed by LF"],
    ["v1 control byte", ascii("PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n"), "not printable ASCII"],
    ["v1 byte above ASCII", concat(ascii("PROXY TCP4 1.2.3.4 "), Uint8Array.of(0xc3, 0xa9), ascii(" 1 2\r\n")), "not printable ASCII"],
    ["v1 longer than 107 bytes", ascii(`PROXY UNKNOWN ${"x".repeat(100)}\r\n`), "longer than 107 bytes"],
    ["v1 field missing", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), "needs 4 addresses and ports"],
    ["v1 field too many", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), "needs 4 addresses and ports"],
    ["v1 two spaces", ascii("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n"), "needs 4 addresses and ports"],
    ["v1 trailing space", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"), "needs 4 addresses and ports"],
    ["v1 octet over 255", ascii("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n"), "is not an TCP4 address"],
    ["v1 octet with a leading zero", ascii("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n"), "is not an TCP4 address"],
    ["v1 three octets", ascii("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n"), "is not an TCP4 address"],
    ["v1 IPv6 in TCP4", ascii("PROXY TCP4 ::1 5.6.7.8 1 2\r\n"), "is not an TCP4 address"],
    ["v1 IPv4 in TCP6", ascii("PROXY TCP6 ::1 5.6.7.8 1 2\r\n"), "destination \"5.6.7.8\" is not an TCP6 address"],
    ["v1 two '::'", ascii("PROXY TCP6 1::2::3 ::1 1 2\r\n"), "is not an TCP6 address"],
    ["v1 nine groups", ascii("PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n"), "is not an TCP6 address"],
    ["v1 group of five digits", ascii("PROXY TCP6 12345::1 ::1 1 2\r\n"), "is not an TCP6 address"],
    ["v1 port over 65535", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"), "source port \"65536\" is not a port"],
    ["v1 port with a leading zero", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 1 02\r\n"), "destination port \"02\" is not a port"],
    ["v1 negative port", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n"), "source port \"-1\" is not a port"],
    ["v2 signature broken", concat(v2Signature.subarray(0, 11), Uint8Array.of(0x0b)), "not a PROXY header"],
    ["v2 version 1", v2(0x11, 0x11, new Uint8Array(12)), "v2 version 1 is not 2"],
    ["v2 version 3", v2(0x31, 0x11, new Uint8Array(12)), "v2 version 3 is not 2"],
    ["v2 command 2", v2(0x22, 0x11, new Uint8Array(12)), "v2 command 2 is not LOCAL or PROXY"],
    ["v2 family 4", v2(0x21, 0x41, new Uint8Array(12)), "v2 address family 4 is unknown"],
    ["v2 transport 3", v2(0x21, 0x13, new Uint8Array(12)), "v2 transport 3 is unknown"],
    ["v2 datagram", v2(0x21, 0x12, new Uint8Array(12)), "datagram"],
    ["v2 IPv4 block too short", v2(0x21, 0x11, new Uint8Array(11)), "11 bytes is shorter than the 12"],
    ["v2 IPv6 block too short", v2(0x21, 0x21, new Uint8Array(12)), "12 bytes is shorter than the 36"],
    ["v2 Unix block too short", v2(0x21, 0x31, new Uint8Array(36)), "36 bytes is shorter than the 216"],
    ["v2 TLV cut short", v2(0x21, 0x11, concat(new Uint8Array(12), Uint8Array.of(0x04, 0x00))), "TLV is cut short"],
    ["v2 TLV past the end", v2(0x21, 0x11, concat(new Uint8Array(12), Uint8Array.of(0x04, 0x00, 0x09, 1))), "TLV runs past"]
  ]

  for (const [name, bytes, detail] of malformed) {
    it(`refuses ${name}`, () => {
      const decoded = ProxyProtocol.decode(bytes)
      assert.strictEqual(decoded._tag, "Invalid")
      assert.include(decoded._tag === "Invalid" ? decoded.detail : "", detail)
      // Whatever the reads, the same refusal.
      const decoder = new ProxyProtocol.Decoder()
      let step: ProxyProtocol.Step = { _tag: "Need" }
      for (const byte of bytes) {
        step = decoder.push(Uint8Array.of(byte))
        if (step._tag !== "Need") break
      }
      assert.deepStrictEqual<unknown>(step, decoded)
    })
  }
})

// Arbitraries: headers of every kind, with IPv6 addresses written out in
// full and decoded to the canonical form the WHATWG URL parser gives them.
const int = (minimum: number, maximum: number) => Schema.Int.check(Schema.isBetween({ minimum, maximum }))
const ipv4 = Arbitrary.schema(Schema.Tuple([int(0, 255), int(0, 255), int(0, 255), int(0, 255)])).pipe(
  Arbitrary.map((octets) => octets.join("."))
)
const group = int(0, 0xffff)
const ipv6 = Arbitrary.schema(Schema.Tuple([group, group, group, group, group, group, group, group])).pipe(
  // Runs of zeros are common in real addresses; make them common here too.
  Arbitrary.map((groups) => groups.map((g) => g % 3 === 0 ? 0 : g)),
  Arbitrary.filter((groups) => !(groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff)),
  Arbitrary.map((groups) => new URL(`http://[${groups.map((g) => g.toString(16)).join(":")}]`).hostname.slice(1, -1))
)
const port = Arbitrary.schema(int(0, 0xffff))

const proxied = (version: 1 | 2) =>
  Arbitrary.all([Arbitrary.schema(Schema.Boolean), ipv4, ipv4, ipv6, ipv6, port, port]).pipe(
    Arbitrary.map(([v4, a, b, a6, b6, sourcePort, destinationPort]): ProxyProtocol.Proxied => ({
      _tag: "Proxied",
      version,
      family: v4 ? "TCP4" : "TCP6",
      source: { host: v4 ? a : a6, port: sourcePort },
      destination: { host: v4 ? b : b6, port: destinationPort }
    }))
  )

const tlvs = Arbitrary.schema(Schema.Array(Schema.Struct({ type: int(0, 255), value: Schema.Uint8Array }))).pipe(
  Arbitrary.map((tlvs) => tlvs.slice(0, 4))
)

/** A header's encoding: v1, v2 of a TCP header, v2 LOCAL or Unix, with TLVs. */
const encoded = Arbitrary.all([
  proxied(1),
  proxied(2),
  Arbitrary.schema(int(0, 3)),
  tlvs,
  Arbitrary.schema(Schema.String)
]).pipe(
  Arbitrary.map(([v1, v2Header, kind, tlvList, path]) => {
    const header: ProxyProtocol.Header = kind === 0
      ? v1
      : kind === 1
      ? v2Header
      : kind === 2
      ? { _tag: "Local", version: 2 }
      : { _tag: "ProxiedUnix", version: 2, source: path.replace(/[^ -~]/g, "").slice(0, 20), destination: "/run/s" }
    return { header, bytes: header.version === 1 ? ProxyProtocol.encodeV1(v1) : ProxyProtocol.encodeV2(header, tlvList) }
  })
)

/** Inputs for split invariance: an encoding, some of its bytes overwritten, and bytes after it. */
const input = Arbitrary.all([
  encoded,
  Arbitrary.schema(Schema.Array(Schema.Tuple([int(0, 1_000), int(0, 255)]))),
  CodecProperties.bytes
]).pipe(
  Arbitrary.map(([{ bytes }, edits, trailing]) => {
    const edited = concat(bytes, trailing)
    for (const [at, value] of edits.slice(0, 3)) edited[at % edited.byteLength] = value
    return edited
  })
)

/** What a decoder makes of `reads`: its first step that is not `Need`, or `Need`. */
const decodeReads = (reads: ReadonlyArray<Uint8Array>): ProxyProtocol.Step => {
  const decoder = new ProxyProtocol.Decoder()
  const rest: Array<Uint8Array> = []
  let result: ProxyProtocol.Step = { _tag: "Need" }
  for (const read of reads) {
    if (result._tag === "Done") {
      rest.push(read)
      continue
    }
    if (result._tag === "Invalid") break
    result = decoder.push(read)
  }
  return result._tag === "Done" ? { ...result, rest: concat(result.rest, ...rest) } : result
}

const sameStep = (a: ProxyProtocol.Step, b: ProxyProtocol.Step): boolean =>
  a._tag === "Done" && b._tag === "Done"
    ? JSON.stringify(a.header) === JSON.stringify(b.header) && a.rest.join(",") === b.rest.join(",")
    : JSON.stringify(a) === JSON.stringify(b)

describe("ProxyProtocol properties", () => {
  it.effect.prop(
    "every header decodes back from its encoding, which is all of it",
    [encoded, CodecProperties.bytes],
    ([{ bytes, header }, after]) =>
      Effect.sync(() => {
        const decoded = ProxyProtocol.decode(concat(bytes, after))
        return decoded._tag === "Done" && decoded.length === bytes.byteLength &&
          JSON.stringify(decoded.header) === JSON.stringify(header)
      }),
    CodecProperties.propOptions
  )

  it.effect.prop(
    "split invariance: valid, corrupted or random bytes decode the same however they are read",
    [input, CodecProperties.bytes, CodecProperties.split],
    ([edited, random, split]) =>
      Effect.sync(() =>
        [edited, random].every((bytes) => {
          const whole = decodeReads([bytes])
          return [split, ...CodecProperties.fixedSplits].every((layout) =>
            sameStep(decodeReads(CodecProperties.cut(bytes, layout).flat()), whole)
          )
        })
      ),
    CodecProperties.propOptions
  )
})
