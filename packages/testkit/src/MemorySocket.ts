/**
 * `Socket.Socket` over a memory endpoint, written after
 * `NodeSocket.fromDuplex` so that code which runs over Node TCP runs the same
 * over memory:
 *
 * - Acquiring `reader` opens (or dials) the connection; releasing the
 *   reader's scope closes it (`destroySoon`: FIN after what was written), and
 *   a pull suspended at that moment fails with `SocketCloseError` 1006.
 * - `pull` returns every chunk that arrived since the last pull and waits
 *   while there is none. After the peer's FIN it fails with
 *   `SocketCloseError` 1000 once the bytes before it were delivered; after a
 *   reset with a `SocketReadError` whose cause has `code: "ECONNRESET"`,
 *   dropping what was in flight. Once a pull failed, later pulls fail alike.
 * - Writes made while no reader is acquired wait until one is, as in Node
 *   (the writer is detached from any one connection).
 * - Writing a `CloseEvent` destroys the connection. A code above 1000 is an
 *   abortive close: the peer's reads fail with `ECONNRESET` and its writes
 *   with `EPIPE`, and this side's pulls fail with a `SocketReadError` (as
 *   Node's `destroy(error)`). A code of 1000 or less is an orderly close:
 *   the peer reads what was sent, then `SocketCloseError` 1000.
 *   (Plain `NodeSocket` sends FIN for every code; a test transport for TCP
 *   maps codes above 1000 to `resetAndDestroy()` to match this.)
 * - Releasing the writer's scope half-closes (FIN); this side keeps reading.
 * - It declares core's transport contract (`Transport`): its failures are
 *   Node's errors (see `TransportErrors`), read by `@socket-to-me/node`'s
 *   `NodeErrors`; it has no direct writer, so every write is an effect.
 *
 * Stage: transport.
 *
 * @since 0.1.0
 */
import * as Transport from "@socket-to-me/core/Transport"
import * as NodeErrors from "@socket-to-me/node/NodeErrors"
import * as Effect from "effect/Effect"
import * as Latch from "effect/Latch"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import * as MemoryConnection from "./MemoryConnection.ts"
import * as TestkitConfig from "./TestkitConfig.ts"
import * as TransportErrors from "./TransportErrors.ts"

/**
 * Key under which a memory socket carries its `Controls`.
 *
 * @since 0.1.0
 * @category type IDs
 */
export const ControlsTypeId = "~@socket-to-me/testkit/MemorySocket/Controls"

/**
 * What a test can do to a memory connection beyond the `Socket` interface.
 * Each acts on the connection the socket currently has, and does nothing
 * when it has none.
 *
 * @since 0.1.0
 * @category models
 */
export interface Controls {
  /** Half-close: send FIN, keep reading (Node `end()`). */
  readonly end: Effect.Effect<void>
  /** Orderly close of both directions: FIN, and this side stops reading (Node `destroy()`). */
  readonly close: Effect.Effect<void>
  /** Abortive close: the peer's reads fail with `ECONNRESET`, its writes with `EPIPE` (Node `resetAndDestroy()`). */
  readonly reset: Effect.Effect<void>
}

/**
 * A `Socket.Socket` backed by the memory transport.
 *
 * @since 0.1.0
 * @category models
 */
export interface MemorySocket extends Transport.Transport {
  readonly [ControlsTypeId]: Controls
}

/**
 * What a memory socket declares as its transport's capabilities: Node's
 * failure reasons, since it reports Node's errors; no direct writer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const capabilities: Transport.Capabilities = { failure: NodeErrors.failure, directWriter: undefined }

/**
 * A socket together with its controls, as `MemoryNetwork.dialControlled`
 * returns it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ControlledSocket extends Controls {
  readonly socket: MemorySocket
}

/**
 * The controls of a memory socket, or of the memory socket a fault wrapper
 * wraps; `None` for other transports.
 *
 * @since 0.1.0
 * @category accessors
 */
export const controls = (socket: Socket.Socket): Option.Option<Controls> =>
  Predicate.hasProperty(socket, ControlsTypeId)
    ? Option.some((socket as MemorySocket)[ControlsTypeId])
    : Option.none()

/**
 * Gives `wrapper` the controls of `wrapped`, if it has any, so that wrapping
 * a memory socket (in a fault, say) keeps it controllable, and the failure
 * reasons `wrapped`'s transport declared (see `Transport.wrapping`).
 *
 * @since 0.1.0
 * @category combinators
 */
export const withControlsOf = (wrapped: Socket.Socket, wrapper: Socket.Socket): Socket.Socket =>
  Transport.wrapping(
    wrapped,
    Option.match(controls(wrapped), {
      onNone: () => wrapper,
      onSome: (controls) => ({ ...wrapper, [ControlsTypeId]: controls })
    })
  )

/**
 * The controls of one endpoint.
 *
 * @since 0.1.0
 * @category constructors
 */
export const endpointControls = (endpoint: MemoryConnection.Endpoint): Controls => ({
  end: endpoint.end,
  close: endpoint.destroy(),
  reset: endpoint.reset()
})

/**
 * Adapts endpoints to a `Socket.Socket`. `open` runs each time the reader is
 * acquired, in the reader's scope, and yields the endpoint to use (an
 * existing one, or a new connection for a dialing socket); the endpoint is
 * destroyed when that scope closes. Without `controls`, the socket's controls
 * act on whichever endpoint a reader currently holds.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromEndpoint = Effect.fnUntraced(function*(
  open: Effect.Effect<MemoryConnection.Endpoint, Socket.SocketError, Scope.Scope>,
  options?: { readonly controls?: Controls | undefined }
) {
  const current = yield* Ref.make(Option.none<MemoryConnection.Endpoint>())
  const latch = yield* Latch.make(false)

  const reader: Socket.Socket["reader"] = Effect.gen(function*() {
    const scope = yield* Effect.scope
    const endpoint = yield* open
    // Registered before the finalizer below, so it runs after it: first fail
    // this acquisition's pulls with 1006, then close the connection (Node's
    // `destroySoon` on the reader's release), which wakes a pull in flight.
    yield* Scope.addFinalizer(scope, endpoint.destroy())
    const failure = yield* Ref.make<Socket.SocketError | undefined>(undefined)
    yield* Scope.addFinalizer(
      scope,
      Effect.gen(function*() {
        yield* Ref.update(failure, (error) => error ?? TransportErrors.closed(1006))
        yield* latch.close
        yield* Ref.update(current, (held) => Option.isSome(held) && held.value === endpoint ? Option.none() : held)
      })
    )
    yield* Ref.set(current, Option.some(endpoint))
    yield* latch.open

    const pull = Effect.flatMap(Ref.get(failure), (failed) =>
      failed !== undefined
        ? Effect.fail(failed)
        : Effect.catch(endpoint.read, (error) =>
          Effect.flatMap(
            Ref.modify(failure, (failed) => [failed ?? error, failed ?? error] as const),
            Effect.fail
          )))
    const result: Socket.Reader = { pull, upgrade: Socket.SocketUpgradeError.unsupported }
    return result
  })

  const write = (chunk: Uint8Array | string | Socket.CloseEvent): Effect.Effect<void, Socket.SocketError> =>
    Effect.flatMap(Ref.get(current), (held) => {
      if (Option.isNone(held)) return latch.whenOpen(Effect.suspend(() => write(chunk)))
      if (Socket.isCloseEvent(chunk)) {
        return chunk.code > 1000
          ? held.value.reset(new Error(`closed with code ${chunk.code}`))
          : held.value.destroy()
      }
      return held.value.write([chunk])
    })

  const writeAll = (
    chunks: ReadonlyArray<Uint8Array | string>
  ): Effect.Effect<void, Socket.SocketError> =>
    Effect.flatMap(Ref.get(current), (held) =>
      Option.isNone(held)
        ? latch.whenOpen(Effect.suspend(() => writeAll(chunks)))
        : held.value.write(chunks))

  const writer: Socket.Socket["writer"] = Effect.acquireRelease(
    Effect.succeed<Socket.Writer>({ write, writeAll }),
    () => Effect.flatMap(Ref.get(current), Option.match({ onNone: () => Effect.void, onSome: (e) => e.end }))
  )

  const onCurrent = (f: (endpoint: MemoryConnection.Endpoint) => Effect.Effect<void>) =>
    Effect.flatMap(Ref.get(current), Option.match({ onNone: () => Effect.void, onSome: f }))

  const socketControls: Controls = options?.controls ?? {
    end: onCurrent((endpoint) => endpoint.end),
    close: onCurrent((endpoint) => endpoint.destroy()),
    reset: onCurrent((endpoint) => endpoint.reset())
  }
  const socket: MemorySocket = {
    ...Socket.make({ reader, writer }),
    [ControlsTypeId]: socketControls,
    [Transport.TypeId]: capabilities
  }
  return socket
})

/**
 * Opens an existing endpoint, as a server opens an accepted connection:
 * fails with `SocketCloseError` 1000 if it was already closed.
 *
 * @since 0.1.0
 * @category constructors
 */
export const openExisting = (
  endpoint: MemoryConnection.Endpoint
): Effect.Effect<MemoryConnection.Endpoint, Socket.SocketError> =>
  Effect.flatMap(endpoint.isDestroyed, (destroyed) =>
    destroyed ? Effect.fail(TransportErrors.closed(1000)) : Effect.succeed(endpoint))

/**
 * A socket over an existing endpoint, with that endpoint's controls.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromExisting = (endpoint: MemoryConnection.Endpoint): Effect.Effect<MemorySocket> =>
  fromEndpoint(openExisting(endpoint), { controls: endpointControls(endpoint) })

/**
 * Both ends of a fresh connection, as sockets, without any network; both
 * ends are closed when the scope closes. Handy for testing code that takes a
 * `Socket` directly.
 *
 * @since 0.1.0
 * @category constructors
 */
export const pair = Effect.fnUntraced(function*(options?: {
  readonly highWaterMark?: number | undefined
}) {
  const { client, server } = yield* MemoryConnection.makePair({
    connectionId: 0,
    highWaterMark: options?.highWaterMark ?? TestkitConfig.highWaterMark,
    onDestroyed: Effect.void
  })
  yield* Effect.addFinalizer(() => Effect.andThen(client.destroy(), server.destroy()))
  return { client: yield* fromExisting(client), server: yield* fromExisting(server) } as const
})
