// SUBSCRIBE channel [channel ...] and UNSUBSCRIBE [channel ...]: one reply
// per channel, `subscribe`/`unsubscribe`, the channel and how many channels
// the connection is subscribed to after it. UNSUBSCRIBE alone leaves every
// channel, in the order they were subscribed (Redis walks its hash table:
// an order of its own), or replies a null channel and 0 when there are none.
// A connection with a subscription is in subscribed mode (`Commands.ts`).
import * as Effect from "effect/Effect"
import * as Reply from "../Reply.ts"
import { name, type Session, type Spec } from "./Spec.ts"

const subscribeWord = Reply.bulk(Reply.latin1("subscribe"))
const unsubscribeWord = Reply.bulk(Reply.latin1("unsubscribe"))

const confirm = (word: Reply.Reply, channel: Reply.Reply, session: Session) =>
  session.reply(Reply.array([word, channel, Reply.integer(session.subscriptions.size)]))

/** SUBSCRIBE. */
export const subscribe: Spec = {
  name: "subscribe",
  arity: -2,
  pubsub: true,
  run: (args, session) =>
    Effect.forEach(args.slice(1), (channel) => {
      const key = name(channel)
      if (session.subscriptions.has(key)) return Effect.sync(() => confirm(subscribeWord, Reply.bulk(channel), session))
      session.subscriptions.set(key, channel)
      confirm(subscribeWord, Reply.bulk(channel), session)
      // The confirmation goes out first, then the channel's messages.
      return Effect.andThen(session.flush, session.channels.subscribe(key, session.outbox))
    }, { discard: true })
}

const leave = (session: Session, key: string, channel: Uint8Array) => {
  if (!session.subscriptions.delete(key)) return Effect.sync(() => confirm(unsubscribeWord, Reply.bulk(channel), session))
  // No message of the channel comes after its confirmation.
  return Effect.andThen(
    session.channels.unsubscribe(key, session.outbox),
    Effect.sync(() => confirm(unsubscribeWord, Reply.bulk(channel), session))
  )
}

/** UNSUBSCRIBE. */
export const unsubscribe: Spec = {
  name: "unsubscribe",
  arity: -1,
  pubsub: true,
  run: (args, session) => {
    if (args.length > 1) {
      return Effect.forEach(args.slice(1), (channel) => leave(session, name(channel), channel), { discard: true })
    }
    if (session.subscriptions.size === 0) {
      return Effect.sync(() => confirm(unsubscribeWord, Reply.nullBulk, session))
    }
    return Effect.forEach([...session.subscriptions], ([key, channel]) => leave(session, key, channel), { discard: true })
  }
}
