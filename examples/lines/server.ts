// Chapter 2 of the tutorial (docs/tutorial/02-framing.md): framing. TCP
// delivers a stream of bytes cut wherever the network and the kernels
// pleased; the line codec turns it into whole lines, at most
// `maxLineBytes` each, however the bytes were cut. The app then works on
// lines: it sends each one back reversed, which only comes out right if it
// got the whole line.
import { Framing, LineCodec } from "@socket-to-me/core"
import { Runner } from "@socket-to-me/node"
import * as Stream from "effect/Stream"

// #region codec
/** The longest line accepted, in bytes, not counting its LF (or CRLF). */
export const maxLineBytes = 1024

/** Lines of UTF-8 text ended by LF, CRLF accepted, at most `maxLineBytes` each. */
export const codec = LineCodec.make({ maxLineBytes })
// #endregion codec

// #region app
/** A line reversed, character by character (by code point, so "é€😀" gives "😀€é"). */
export const reverse = (line: string): string => Array.from(line).reverse().join("")

/** The protocol: one line in, the same line reversed out. */
export const rev = Framing.handler(codec, (lines) =>
  lines.pipe(
    Stream.map(reverse),
    // A line over the cap fails the stream with FrameTooLarge as soon as the
    // cap is passed, before the rest of it is read. Say why, then fail with
    // the same error: it becomes the connection's exit reason once the
    // error line is written.
    Stream.catchReason("ConnectionError", "FrameTooLarge", (reason, error) =>
      Stream.concat(Stream.make(`error: line longer than ${reason.limit} bytes`), Stream.fail(error)))
  ))
// #endregion app

if (import.meta.main) {
  const port = Number(process.env.PORT ?? 7021)
  // Prints `lines listening on 127.0.0.1:7021`; Ctrl-C drains.
  Runner.runMain(Runner.serve(rev, { name: "lines", host: "127.0.0.1", port }))
}
