/**
 * A real `redis-server` for tests: started on a free loopback port in a
 * temporary folder, with persistence off, for the life of a scope; it can
 * be stopped and started again on the same port mid-test (a Redis outage).
 * Tests that need it skip themselves when `redis-server` is not installed
 * (`available`); `.ci/run` installs it, so CI never skips them.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as Exit from "effect/Exit"
import * as Spawned from "./Spawned.ts"

/**
 * Whether `redis-server` is on PATH.
 *
 * @since 0.1.0
 * @category constructors
 */
export const available: boolean = Spawned.isInstalled("redis-server")

/**
 * A running (or stopped) test Redis.
 *
 * @since 0.1.0
 * @category models
 */
export interface RedisServer {
  readonly port: number
  /** `redis://127.0.0.1:PORT`. */
  readonly url: string
  /** Stops it: `SIGTERM` (Redis closes its clients and exits) or `SIGKILL`. Waits for the exit. */
  readonly stop: (signal?: "SIGTERM" | "SIGKILL") => Effect.Effect<void>
  /** Starts it again on the same port, empty (nothing was persisted). */
  readonly restart: Effect.Effect<void, Error>
}

/**
 * Starts `redis-server` on a free port of 127.0.0.1, in a temporary folder
 * removed with the scope, without persistence (no RDB, no AOF).
 *
 * @since 0.1.0
 * @category constructors
 */
export const start: Effect.Effect<RedisServer, Error, Scope.Scope> = Effect.gen(function*() {
  const dir = yield* Spawned.tempDir("socket-to-me-redis-")
  const port = yield* Spawned.freePort
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir]
  const parent = yield* Effect.scope
  const launch = Effect.gen(function*() {
    const scope = yield* Scope.fork(parent, "sequential")
    const process = yield* Scope.provide(
      Spawned.start("redis-server", args, { cwd: dir, ready: /Ready to accept connections/ }),
      scope
    ).pipe(Effect.onError(() => Scope.close(scope, Exit.void)))
    return { process, scope }
  })
  const running = yield* Ref.make(yield* launch)
  const stop = (signal: "SIGTERM" | "SIGKILL" = "SIGTERM") =>
    Effect.gen(function*() {
      const { process, scope } = yield* Ref.get(running)
      yield* process.kill(signal)
      yield* process.exited
      yield* Scope.close(scope, Exit.void)
    })
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    restart: Effect.flatMap(launch, (next) => Ref.set(running, next))
  }
})
