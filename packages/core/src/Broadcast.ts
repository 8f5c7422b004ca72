/**
 * Broadcast: one message to many subscribers, each with its own bounded
 * queue and its own slow-consumer policy.
 *
 * Stage: app to write. A subscriber's queue is what stands between shared
 * state (an actor publishing to a room) and one connection's writer. Effect's
 * `PubSub` shares one buffer and one strategy among all subscribers, so a
 * per-subscriber policy (one reader disconnected, another dropping) is built
 * here from one bounded `Queue` per subscriber instead.
 *
 * Decisions made here:
 * - Publishing never waits: each subscriber is offered the message without
 *   suspending, so one slow subscriber never slows the publisher or the
 *   other subscribers.
 * - Memory is bounded by `capacity` messages per subscriber whatever the
 *   policy. When a queue is full, the policy decides: `disconnect` (default)
 *   empties the queue at once, frees its memory, and fails the subscriber's
 *   stream with `ConnectionError` `SlowConsumer`; `dropOldest` slides
 *   (discards the oldest queued message); `dropNewest` discards the message
 *   being published.
 * - The stream emits everything queued at each pull (at most `capacity`
 *   messages), so that a connection that fell behind catches up with one
 *   encoded batch and one write, not one per message: a room's fan-out
 *   costs a write per member per burst rather than per message.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as MutableRef from "effect/MutableRef"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Config from "./Config.ts"
import * as ConnectionError from "./ConnectionError.ts"

/**
 * What happens when a subscriber's queue is full.
 *
 * @since 0.1.0
 * @category models
 */
export type Policy = "disconnect" | "dropOldest" | "dropNewest"

/**
 * What became of one offered message: queued; queued after discarding the
 * oldest (`dropOldest`) or discarded (`dropNewest`); made the subscriber
 * disconnect (`disconnect`); or refused because the subscriber is closed.
 *
 * @since 0.1.0
 * @category models
 */
export type Delivery = "queued" | "droppedOldest" | "droppedNewest" | "disconnected" | "closed"

/**
 * Subscriber options.
 *
 * @since 0.1.0
 * @category models
 */
export interface SubscriberOptions {
  /** Messages queued before the policy applies. Default `Config.subscriberQueueSize`. */
  readonly capacity?: number | undefined
  /** Default `"disconnect"`. */
  readonly policy?: Policy | undefined
}

/**
 * One subscriber: a bounded queue with a policy, read as a stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface Subscriber<A> {
  readonly capacity: number
  readonly policy: Policy
  /** Queues a message without waiting, applying the policy when full. */
  readonly offer: (message: A) => Effect.Effect<Delivery>
  /** `offer`, synchronously, for publishers that fan out in one step. */
  readonly offerUnsafe: (message: A) => Delivery
  /**
   * The queued messages, in order. Ends after `end`, fails after `fail`,
   * fails with `SlowConsumer` at once when the disconnect policy applies.
   * Read it once.
   */
  readonly stream: Stream.Stream<A, ConnectionError.ConnectionError>
  /** No more messages: the stream ends once the queued ones are read. Idempotent. */
  readonly end: Effect.Effect<void>
  /** No more messages: the stream fails with `error` once the queued ones are read. */
  readonly fail: (error: ConnectionError.ConnectionError) => Effect.Effect<void>
  /** Completes when the disconnect policy closed this subscriber. */
  readonly disconnected: Effect.Effect<void>
  /** Whether the subscriber still accepts messages. */
  readonly isOpen: Effect.Effect<boolean>
  /** Messages queued now (never more than `capacity`). */
  readonly size: Effect.Effect<number>
  /** Messages discarded by a drop policy so far. */
  readonly dropped: Effect.Effect<number>
}

/**
 * Creates a subscriber that is not attached to any hub (attach it with
 * `Broadcast.add`, or offer to it directly). Closing the scope shuts it down.
 *
 * @since 0.1.0
 * @category constructors
 */
export const subscriber = <A>(
  options: SubscriberOptions = {}
): Effect.Effect<Subscriber<A>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const capacity = Math.max(1, options.capacity ?? Config.subscriberQueueSize)
    const policy = options.policy ?? "disconnect"
    // Sliding for dropOldest; dropping otherwise, so that a full queue
    // refuses the offer and the policy decides (offers never suspend).
    const queue = yield* Queue.make<A, ConnectionError.ConnectionError | Cause.Done>({
      capacity,
      strategy: policy === "dropOldest" ? "sliding" : "dropping"
    })
    yield* Effect.addFinalizer(() => Queue.shutdown(queue))
    const overflowed = yield* Deferred.make<void>()
    const dropped = MutableRef.make(0)
    const slowConsumer = ConnectionError.make(new ConnectionError.SlowConsumer({ capacity }))

    const isOpen = () => queue.state._tag === "Open"

    const disconnect = (): Delivery => {
      // Empty first, so the failure is seen at once and the memory freed.
      while (Queue.takeUnsafe(queue) !== undefined) {
        // discard
      }
      Queue.failCauseUnsafe(queue, Cause.fail(slowConsumer))
      Deferred.doneUnsafe(overflowed, Exit.void)
      return "disconnected"
    }

    const offerUnsafe = (message: A): Delivery => {
      if (!isOpen()) return "closed"
      const full = Queue.sizeUnsafe(queue) >= capacity
      if (!full) {
        Queue.offerUnsafe(queue, message)
        return "queued"
      }
      switch (policy) {
        case "disconnect":
          return disconnect()
        case "dropOldest":
          Queue.offerUnsafe(queue, message)
          MutableRef.update(dropped, (n) => n + 1)
          return "droppedOldest"
        case "dropNewest":
          MutableRef.update(dropped, (n) => n + 1)
          return "droppedNewest"
      }
    }

    const self: Subscriber<A> = {
      capacity,
      policy,
      offer: (message) => Effect.sync(() => offerUnsafe(message)),
      offerUnsafe,
      stream: Stream.fromPull(Effect.succeed(Queue.takeAll(queue))),
      end: Effect.asVoid(Queue.end(queue)),
      fail: (error) => Effect.asVoid(Queue.fail(queue, error)),
      disconnected: Deferred.await(overflowed),
      isOpen: Effect.sync(isOpen),
      size: Queue.size(queue),
      dropped: Effect.sync(() => MutableRef.get(dropped))
    }
    return self
  })

/**
 * What one `publish` did: subscribers the message was queued for (possibly
 * after dropping an older one), subscribers that dropped it, and
 * subscribers it disconnected.
 *
 * @since 0.1.0
 * @category models
 */
export interface PublishResult {
  readonly queued: number
  readonly dropped: number
  readonly disconnected: number
}

/**
 * A hub: the set of subscribers a message is published to.
 *
 * @since 0.1.0
 * @category models
 */
export interface Broadcast<A> {
  /**
   * Offers `message` to every subscriber (but `except`) without waiting.
   * Subscribers found closed are removed.
   */
  readonly publish: (message: A, options?: { readonly except?: Subscriber<A> | undefined }) => Effect.Effect<PublishResult>
  /** A new subscriber attached to this hub for the life of the scope. */
  readonly subscribe: (options?: SubscriberOptions) => Effect.Effect<Subscriber<A>, never, Scope.Scope>
  /** Attaches an existing subscriber (for example, one moving between rooms). */
  readonly add: (subscriber: Subscriber<A>) => Effect.Effect<void>
  /** Detaches a subscriber; it stays open. */
  readonly remove: (subscriber: Subscriber<A>) => Effect.Effect<void>
  /** Subscribers attached now. */
  readonly size: Effect.Effect<number>
}

/**
 * Creates an empty hub.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A>(): Effect.Effect<Broadcast<A>> =>
  Effect.gen(function*() {
    // Replaced, never mutated, so a publish iterates a stable snapshot.
    const subscribers = yield* Ref.make<ReadonlySet<Subscriber<A>>>(new Set())
    const add = (s: Subscriber<A>) => Ref.update(subscribers, (set) => new Set(set).add(s))
    const remove = (s: Subscriber<A>) =>
      Ref.update(subscribers, (set) => {
        if (!set.has(s)) return set
        const next = new Set(set)
        next.delete(s)
        return next
      })

    const publish: Broadcast<A>["publish"] = (message, options) =>
      Effect.flatMap(Ref.get(subscribers), (set) => {
        let queued = 0
        let dropped = 0
        let disconnected = 0
        const closed: Array<Subscriber<A>> = []
        for (const s of set) {
          if (s === options?.except) continue
          switch (s.offerUnsafe(message)) {
            case "queued":
            case "droppedOldest":
              queued++
              break
            case "droppedNewest":
              dropped++
              break
            case "disconnected":
              disconnected++
              closed.push(s)
              break
            case "closed":
              closed.push(s)
          }
        }
        const result: PublishResult = { queued, dropped, disconnected }
        return closed.length === 0
          ? Effect.succeed(result)
          : Effect.as(Effect.forEach(closed, remove, { discard: true }), result)
      })

    return {
      publish,
      subscribe: (options) =>
        Effect.tap(subscriber<A>(options), (s) => Effect.acquireRelease(add(s), () => remove(s))),
      add,
      remove,
      size: Effect.map(Ref.get(subscribers), (set) => set.size)
    }
  })
