// Pub/sub: which connections listen to which channel. Each channel with a
// subscriber is a core `Broadcast` hub of those connections' outboxes
// (`Outbox.ts`): a message is encoded once, as Redis's `message` push,
// and offered to every outbox without waiting, so a slow subscriber is cut
// off rather than slowing the publisher or the other subscribers.
import { Broadcast } from "@socket-to-me/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as SynchronizedRef from "effect/SynchronizedRef"
import * as Reply from "./Reply.ts"

/** The pub/sub service. Channels are named by their bytes (as a Latin-1 string). */
export class Channels extends Context.Service<Channels, {
  /** `outbox` receives what is published to `channel` from now on (once, however often it subscribes). */
  readonly subscribe: (channel: string, outbox: Broadcast.Subscriber<Uint8Array>) => Effect.Effect<void>
  /** `outbox` no longer receives `channel`'s messages. */
  readonly unsubscribe: (channel: string, outbox: Broadcast.Subscriber<Uint8Array>) => Effect.Effect<void>
  /** Sends `message` to `channel`'s subscribers; how many it was given to (Redis's PUBLISH reply). */
  readonly publish: (channel: Uint8Array, message: Uint8Array) => Effect.Effect<number>
  /** Channels with at least one subscriber (Redis's `PUBSUB NUMSUB`-like view, for tests). */
  readonly size: Effect.Effect<number>
}>()("@socket-to-me/examples/resp/Channels") {}

const messageHeader = Reply.latin1("*3\r\n$7\r\nmessage\r\n")

/** The `message` push for `channel`, as subscribers receive it. */
export const encodeMessage = (channel: Uint8Array, message: Uint8Array): Uint8Array => {
  const encoder = new Reply.Encoder()
  encoder.bytes(messageHeader)
  encoder.write(Reply.bulk(channel))
  encoder.write(Reply.bulk(message))
  return encoder.take()
}

/** An empty registry. */
export const make = Effect.gen(function*() {
  // Hubs are made and dropped while the registry is held, so a subscribe
  // and an unsubscribe of the same channel never see half of each other.
  const hubs = yield* SynchronizedRef.make(HashMap.empty<string, Broadcast.Broadcast<Uint8Array>>())
  return Channels.of({
    subscribe: (channel, outbox) =>
      SynchronizedRef.modifyEffect(hubs, (current) =>
        Option.match(HashMap.get(current, channel), {
          onSome: (hub) => Effect.as(hub.add(outbox), [undefined, current] as const),
          onNone: () =>
            Effect.flatMap(Broadcast.make<Uint8Array>(), (hub) =>
              Effect.as(hub.add(outbox), [undefined, HashMap.set(current, channel, hub)] as const))
        })),
    unsubscribe: (channel, outbox) =>
      SynchronizedRef.modifyEffect(hubs, (current) =>
        Option.match(HashMap.get(current, channel), {
          onNone: () => Effect.succeed([undefined, current] as const),
          onSome: (hub) =>
            Effect.andThen(hub.remove(outbox), hub.size).pipe(
              Effect.map((left) => [undefined, left === 0 ? HashMap.remove(current, channel) : current] as const)
            )
        })),
    publish: (channel, message) =>
      Effect.flatMap(SynchronizedRef.get(hubs), (current) =>
        Option.match(HashMap.get(current, Reply.fromLatin1(channel)), {
          onNone: () => Effect.succeed(0),
          // A subscriber this message cut off counts: it was sent to it,
          // as Redis counts a client it then closes for its output limit.
          onSome: (hub) =>
            Effect.map(hub.publish(encodeMessage(channel, message)), (sent) => sent.queued + sent.disconnected)
        })),
    size: Effect.map(SynchronizedRef.get(hubs), HashMap.size)
  })
})

/** The registry as a layer: one for the whole server. */
export const layer: Layer.Layer<Channels> = Layer.effect(Channels, make)
