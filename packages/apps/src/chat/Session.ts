/**
 * One chat connection: lines in, lines out.
 *
 * Stage: app, per connection. Input lines are sanitized (control characters
 * and terminal escapes stripped), rate limited (token bucket), parsed into
 * commands (Schema decode) and told to the chat room in order. Output is
 * the connection's outbox: a bounded queue (a `Broadcast` subscriber with
 * the disconnect policy) that the room writes events into, already encoded
 * (one line per entry), and the connection's writer drains. The outbox is the only way out, so its bound
 * is the memory a connection can make the server hold for it.
 *
 * How a session ends:
 * - `/quit`: the room queues `* bye` and ends the outbox; the output ends
 *   after it and the server closes the connection.
 * - The client closes its side: every line it sent is handled, then the
 *   room ends the outbox, so the replies still arrive.
 * - A line over the cap or a line not finished in time: the room queues
 *   `* error: ...` and fails the outbox with that reason, which becomes the
 *   connection's exit reason after the error line is written.
 * - The outbox overflows (a client that does not read): the room is told at
 *   once (the member leaves, the room is told they disconnected) and the
 *   connection is aborted with `SlowConsumer` (`ConnectionInfo.abort`): it
 *   closes at once, without waiting for the output queued for a peer that
 *   may never read again.
 * - The server drains: `* server shutting down` is queued, the outbox ends.
 * - The connection is idle for the server's idle timeout: the server tells
 *   the client (`Chat.idleNotice`) and closes it (`IdleTimeout`); the room
 *   is told when the connection's scope closes.
 * - Any other failure (reset): the connection ends with it; the room is
 *   told when the connection's scope closes.
 *
 * Each command is a `chat.command` span (attribute `chat.command`: the
 * command, e.g. `Nick`; never its text), a child of the connection's.
 *
 * @since 0.1.0
 */
import type * as Actor from "@socket-to-me/core/Actor"
import * as Broadcast from "@socket-to-me/core/Broadcast"
import * as ConnectionError from "@socket-to-me/core/ConnectionError"
import type * as Framing from "@socket-to-me/core/Framing"
import * as LineCodec from "@socket-to-me/core/LineCodec"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import * as ChatConfig from "./ChatConfig.ts"
import { ChatRoom } from "./ChatRoom.ts"
import * as Flood from "./Flood.ts"
import * as Protocol from "./Protocol.ts"
import * as Sanitize from "./Sanitize.ts"

/**
 * Per-connection settings.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Lines per second; 0 turns flood control off. Default `ChatConfig.rateLimit`. */
  readonly rateLimit?: number | undefined
  /** Lines at once. Default `ChatConfig.rateBurst`. */
  readonly rateBurst?: number | undefined
  /** Lines queued for a connection before it is cut off as too slow. Default `ChatConfig.outboxLines`. */
  readonly outboxSize?: number | undefined
}

// The error line for a connection closed for breaking a framing rule, or
// undefined for failures that end the connection without one.
const kickNotice = (error: ConnectionError.ConnectionError): string | undefined => {
  const reason = error.reason
  switch (reason._tag) {
    case "FrameTooLarge":
      return `line too long (limit ${reason.limit} bytes); closing`
    case "FrameTimeout":
      return `line not completed within ${Duration.format(reason.after)}; closing`
    default:
      return undefined
  }
}

/**
 * The chat as a framed app: lines in, encoded lines out (see
 * `Framing.handlerEncoded`).
 *
 * @since 0.1.0
 * @category handlers
 */
export const app = (options: Options = {}): Framing.FramedApp<string, Uint8Array, Actor.ActorError, ChatRoom> => {
  const limits: Flood.Limits = {
    rate: options.rateLimit ?? ChatConfig.rateLimit,
    burst: options.rateBurst ?? ChatConfig.rateBurst
  }
  return (lines, info) =>
    Stream.unwrap(Effect.gen(function*() {
      const room = yield* ChatRoom
      const id = info.id
      const outbox = yield* Broadcast.subscriber<Uint8Array>({
        capacity: options.outboxSize ?? ChatConfig.outboxLines,
        policy: "disconnect"
      })
      yield* room.connect(id, outbox)
      // Whatever ended the connection, the room forgets it (a no-op if it
      // already left). `ignore`: a stopped room has nobody to tell.
      yield* Effect.addFinalizer(() => Effect.ignore(room.leave(id, { _tag: "Dropped" })))
      yield* Effect.forkScoped(Effect.andThen(
        outbox.disconnected,
        Effect.andThen(
          Effect.ignore(room.leave(id, { _tag: "SlowConsumer" })),
          info.abort(new ConnectionError.SlowConsumer({ capacity: outbox.capacity }))
        )
      ))
      yield* Effect.forkScoped(Effect.andThen(
        info.draining,
        Effect.gen(function*() {
          yield* outbox.offer(LineCodec.encodeLine(Protocol.formatEvent({ _tag: "ShuttingDown" })))
          yield* outbox.end
          yield* Effect.ignore(room.leave(id, { _tag: "Shutdown" }))
        })
      ))

      const clock = yield* Clock.Clock
      // Owned by the reading fiber alone.
      let bucket = Flood.full(limits, clock.currentTimeMillisUnsafe())
      let flooding = false
      const onLine = (raw: string): Effect.Effect<void, Actor.ActorError> => {
        const line = Sanitize.sanitize(raw)
        if (line.trim() === "") return Effect.void
        const taken = Flood.take(limits, bucket, clock.currentTimeMillisUnsafe())
        bucket = taken.bucket
        if (!taken.allowed) {
          if (flooding) return Effect.void
          flooding = true
          return room.throttled(id, limits)
        }
        flooding = false
        // A command is a span, a child of the connection's, named for the
        // command only: what it says is the users' business, not the trace's.
        return Effect.flatMap(Effect.result(Protocol.parseCommand(line)), (parsed) =>
          Result.isSuccess(parsed)
            ? Effect.withSpan(room.command(id, parsed.success), "chat.command", {
              attributes: { "chat.command": parsed.success._tag }
            })
            : room.rejected(id, parsed.failure))
      }
      const reader = Stream.runForEach(lines, onLine).pipe(
        Effect.andThen(room.leave(id, { _tag: "Closed" })),
        Effect.catchIf(
          (error): error is ConnectionError.ConnectionError =>
            error instanceof ConnectionError.ConnectionError && kickNotice(error) !== undefined,
          (error) => room.leave(id, { _tag: "Kicked", notice: kickNotice(error)!, error })
        )
      )
      // The outbox drives the output: when it ends, so does the connection
      // (and the reader, forked in the output's scope, is interrupted). A
      // failed read ends the outbox and fails the output right after what
      // was already queued. The reader runs in a fiber of its own rather
      // than merged into the output (`Stream.merge`), which would hand every
      // batch over through one more fiber and queue.
      let readFailure: Cause.Cause<Actor.ActorError | ConnectionError.ConnectionError> | undefined
      yield* Effect.forkScoped(Effect.onError(reader, (cause) =>
        Cause.hasInterruptsOnly(cause) ? Effect.void : Effect.suspend(() => {
          readFailure = cause
          return outbox.end
        })))
      return Stream.concat(
        outbox.stream,
        Stream.suspend(() => readFailure === undefined ? Stream.empty : Stream.failCause(readFailure))
      )
    }))
}
