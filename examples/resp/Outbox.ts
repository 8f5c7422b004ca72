// One connection's output, in order: its own replies and the messages
// published to the channels it subscribed to, already encoded, bounded in
// bytes. The connection's output stream is this outbox read.
//
// It is a core `Broadcast.Subscriber`, so the channels' hubs publish to it
// like to any subscriber, with two kinds of offer:
// - a reply (`reply`) waits while the outbox is over its bound: a client
//   that pipelines without reading is simply not read from any more;
// - a published message (`offerUnsafe`, the hub's) never waits: when it
//   does not fit, the subscriber is too slow and is cut off at once (its
//   queue emptied, its stream failed with `SlowConsumer`, `disconnected`
//   completed), so a publisher is never slowed by a subscriber.
// One queue for both keeps Redis's order: a `subscribe` confirmation before
// the channel's first message, a `pong` after the messages before it.
// `capacity` is in bytes here, not messages.
import { Broadcast, ConnectionError, Handoff } from "@socket-to-me/core"
import type * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Pull from "effect/Pull"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

/** A connection's outbox: a subscriber whose own replies wait for room. */
export interface Outbox extends Broadcast.Subscriber<Uint8Array> {
  /** Queues a reply after everything queued, waiting while the outbox is full; nothing once it is closed. */
  readonly reply: (bytes: Uint8Array) => Effect.Effect<void>
}

/** An outbox holding at most `maxBytes` (or one larger entry, alone); closing the scope shuts it down. */
export const make = (maxBytes: number): Effect.Effect<Outbox, never, Scope.Scope> =>
  Effect.suspend(() => {
    let queued: Array<Uint8Array> = []
    let queuedBytes = 0
    // How the stream ends once `queued` is read; set once.
    let closed: Pull.Pull<never, ConnectionError.ConnectionError> | undefined
    // The size of the reply waiting for room.
    let wanted = 0
    const overflowed = Deferred.makeUnsafe<void>()
    const slowConsumer = ConnectionError.make(new ConnectionError.SlowConsumer({ capacity: maxBytes }))
    const fits = (size: number) => queuedBytes === 0 || queuedBytes + size <= maxBytes

    const ready = (): Pull.Pull<Arr.NonEmptyReadonlyArray<Uint8Array>, ConnectionError.ConnectionError> | undefined => {
      if (queued.length > 0) {
        const batch = queued as unknown as Arr.NonEmptyReadonlyArray<Uint8Array>
        queued = []
        queuedBytes = 0
        schedule()
        return Effect.succeed(batch)
      }
      return closed
    }
    // Two waiters, one each: the output stream (for entries) and the
    // connection's reader (for room). Both are woken by a microtask, once
    // the waker has given the event loop back, as core's subscribers are:
    // a publisher offering to many subscribers wakes each once.
    const reader = Handoff.make(ready)
    const room = Handoff.make<void>(() => closed !== undefined || fits(wanted) ? Effect.void : undefined)
    let wakeScheduled = false
    const wake = () => {
      wakeScheduled = false
      if (reader.waiting) {
        const next = ready()
        if (next !== undefined) reader.give(next)
      }
      if (room.waiting && (closed !== undefined || fits(wanted))) room.give(Effect.void)
    }
    const schedule = () => {
      if (wakeScheduled || (!reader.waiting && !room.waiting)) return
      wakeScheduled = true
      queueMicrotask(wake)
    }

    const push = (bytes: Uint8Array) => {
      queued.push(bytes)
      queuedBytes += bytes.length
      schedule()
    }
    const close = (how: Pull.Pull<never, ConnectionError.ConnectionError>) => {
      if (closed !== undefined) return
      closed = how
      schedule()
    }

    const offerUnsafe = (message: Uint8Array): Broadcast.Delivery => {
      if (closed !== undefined) return "closed"
      if (fits(message.length)) {
        push(message)
        return "queued"
      }
      queued = []
      queuedBytes = 0
      close(Effect.fail(slowConsumer))
      Deferred.doneUnsafe(overflowed, Exit.void)
      return "disconnected"
    }

    const reply = (bytes: Uint8Array): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (closed !== undefined) return Effect.void
        if (fits(bytes.length)) {
          push(bytes)
          return Effect.void
        }
        wanted = bytes.length
        return Effect.andThen(room.take, Effect.sync(() => {
          if (closed === undefined) push(bytes)
        }))
      })

    const self: Outbox = {
      capacity: maxBytes,
      policy: "disconnect",
      reply,
      offer: (message) => Effect.sync(() => offerUnsafe(message)),
      offerUnsafe,
      stream: Stream.fromPull(Effect.succeed(reader.take)),
      end: Effect.sync(() => close(Cause.done())),
      fail: (error) => Effect.sync(() => close(Effect.fail(error))),
      disconnected: Deferred.await(overflowed),
      isOpen: Effect.sync(() => closed === undefined),
      size: Effect.sync(() => queuedBytes),
      dropped: Effect.succeed(0)
    }
    return Effect.as(
      Effect.addFinalizer(() =>
        Effect.sync(() => {
          queued = []
          queuedBytes = 0
          close(Effect.interrupt)
        })
      ),
      self
    )
  })
