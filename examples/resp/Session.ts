// One connection: commands in, replies and messages out (mini-redis's
// `Handler::run`).
//
// A reader fiber takes the commands of each read in order, runs them, and
// hands their replies to the connection's outbox as one write (sooner when
// they pass `Config.replyFlushBytes`; the outbox makes it wait when full).
// The outbox also receives what is published to the connection's channels;
// reading the outbox is the connection's output, so replies and messages
// leave in one order.
//
// How a connection ends:
// - The client closes its side: every command it sent is answered, then
//   the output ends.
// - QUIT: `+OK`, then the output ends; later commands are not run.
// - A protocol error: the replies to the commands before it, then
//   `-ERR Protocol error: ...`, then the connection closes with
//   `DecodeFailed` (Redis closes after the same reply).
// - A command past `maxCommandBytes`, or a frame not finished within the
//   frame deadline: closed without a reply (Redis closes silently at its
//   query buffer limit).
// - A subscriber that falls `maxPendingBytes` behind: cut off at once,
//   `SlowConsumer` (`ConnectionInfo.abort`).
// - The server drains: the replies queued are written, then the output ends.
// Whatever the end, the connection's subscriptions end with it.
import { ConnectionError, Framing } from "@socket-to-me/core"
import type { Connection } from "@socket-to-me/core"
import * as Cause from "effect/Cause"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Channels from "./Channels.ts"
import type { Session } from "./cmd/Spec.ts"
import * as Codec from "./Codec.ts"
import * as Commands from "./Commands.ts"
import * as Config from "./Config.ts"
import * as Db from "./Db.ts"
import * as Outbox from "./Outbox.ts"
import * as Reply from "./Reply.ts"

/** The server's options: the codec's limits, the outbox's, and the frame deadline. */
export interface Options extends Codec.Options {
  /** Replies and messages a connection may have waiting. Default `Config.maxPendingBytes`. */
  readonly maxPendingBytes?: number | undefined
  /** A command that has started must be complete within this time. Default core's `Config.frameDeadline`. */
  readonly frameDeadline?: Duration.Input | undefined
}

/** The session as a framed app: commands in, encoded replies and messages out. */
export const app = (options: Options = {}): Framing.FramedApp<Reply.Command, Uint8Array, never, Db.Db | Channels.Channels> =>
(commands, info) =>
  Stream.unwrap(Effect.gen(function*() {
    const outbox = yield* Outbox.make(options.maxPendingBytes ?? Config.maxPendingBytes)
    const encoder = new Reply.Encoder()
    let quitting = false
    const flush = Effect.suspend(() => encoder.size === 0 ? Effect.void : outbox.reply(encoder.take()))
    const session: Session = {
      db: yield* Db.Db,
      channels: yield* Channels.Channels,
      outbox,
      subscriptions: new Map(),
      reply: (reply) => encoder.write(reply),
      flush,
      quit: () => {
        quitting = true
      }
    }
    yield* Effect.addFinalizer(() =>
      Effect.forEach(session.subscriptions.keys(), (channel) => session.channels.unsubscribe(channel, outbox), {
        discard: true
      })
    )
    yield* Effect.forkScoped(Effect.andThen(
      outbox.disconnected,
      info.abort(new ConnectionError.SlowConsumer({ capacity: outbox.capacity }))
    ))
    yield* Effect.forkScoped(Effect.andThen(info.draining, outbox.end))

    const onRead = Effect.fnUntraced(function*(batch: ReadonlyArray<Reply.Command>) {
      for (const command of batch) {
        if (quitting) break
        yield* Commands.execute(command, session)
        if (encoder.size >= Config.replyFlushBytes) yield* flush
      }
      yield* flush
      if (quitting) yield* outbox.end
    })
    // A protocol error is answered, as Redis answers it, after the replies
    // to the commands before it; then the output fails with it.
    const onFailure = (error: ConnectionError.ConnectionError) =>
      Effect.andThen(
        error.reason._tag === "DecodeFailed"
          ? Effect.andThen(flush, outbox.reply(Reply.encode(Reply.error(`ERR ${error.reason.detail}`))))
          : Effect.void,
        outbox.fail(error)
      )
    yield* Effect.forkScoped(
      Stream.runForEachArray(commands, onRead).pipe(
        Effect.andThen(Effect.andThen(flush, outbox.end)),
        Effect.catch(onFailure),
        // A defect in a command ends this connection (HandlerFailed), not
        // the server, after the replies to the commands before it; an
        // interrupt is the connection ending anyway.
        Effect.catchCause((cause) =>
          Cause.hasInterruptsOnly(cause) ? Effect.void : Effect.andThen(
            flush,
            outbox.fail(ConnectionError.make(new ConnectionError.HandlerFailed({ cause: Cause.squash(cause) })))
          )
        )
      )
    )
    return outbox.stream
  }))

/** The resp server's connection handler; it needs a `Db` and `Channels` (see `layer`). */
export const handler = (options: Options = {}): Connection.Handler<never, Db.Db | Channels.Channels> =>
  Framing.handlerEncoded(Codec.make(options), app(options), { frameDeadline: options.frameDeadline })
