/**
 * Testing servers built on Socket To Me: memory network, faults, properties, leak checks, TCP test transport, scripted test peers, the transport contract.
 *
 * Every module is exported as a namespace, as Effect does:
 * `import { ... } from "@socket-to-me/testkit"`; each is also reachable as
 * `@socket-to-me/testkit/<Module>`.
 *
 * @since 0.1.0
 */

/**
 * Bytes as tests handle them: text to and from UTF-8, socket chunks (`Uint8Array | string`) as bytes, chunks joined into one buffer, buffers compared, and payloads to send (random, or a deterministic pattern).
 *
 * @since 0.1.0
 */
export * as Bytes from "./Bytes.ts"

/**
 * Reusable properties that every `FrameCodec` must satisfy, so a new codec is held to the same contract as the built-in ones with a few lines of test.
 *
 * @since 0.1.0
 */
export * as CodecProperties from "./CodecProperties.ts"

/**
 * Fault injection as `Socket -> Socket` wrappers. They only use the `Socket` interface, so they apply to either end of a connection, over the memory network or real TCP, and compose (`Faults.delay(...)(Faults.bytewise(socket))`).
 *
 * @since 0.1.0
 */
export * as Faults from "./Faults.ts"

/**
 * Property tests of a protocol over interleavings: a server, clients that each run a generated script of actions concurrently, with no barrier between them, and a check over what every client sent and received. Each run is one seeded schedule of a `NetworkScheduler` over the memory network; a failing run shrinks, scripts and schedule both, and is printed as its transcript with what replays it.
 *
 * @since 0.1.0
 */
export * as Interleavings from "./Interleavings.ts"

/**
 * Leak checks for any test: after a test's scopes closed, nothing it opened may still be alive. The memory network is checked through its own counts (open sockets, live connections); real TCP through Node's handle list (see `NodeHandles`, kept apart because it reads `process`). Both report one error family, `LeakError`.
 *
 * @since 0.1.0
 */
export * as Leaks from "./Leaks.ts"

/**
 * An in-memory connection: two endpoints joined by two pipes, each endpoint behaving like one Node `net.Socket` (a `Duplex`) with `allowHalfOpen`.
 *
 * @since 0.1.0
 */
export * as MemoryConnection from "./MemoryConnection.ts"

/**
 * An in-memory network with one listening address: the `SocketServer` a server runs on in tests, and the dialer its clients use. Nothing touches the OS, so tests are fast and deterministic, and `TestClock` drives every timer.
 *
 * @since 0.1.0
 */
export * as MemoryNetwork from "./MemoryNetwork.ts"

/**
 * One direction of an in-memory connection: the bytes one endpoint wrote and the other has not read yet. It plays the part of the kernel buffers and the wire between two TCP sockets.
 *
 * @since 0.1.0
 */
export * as MemoryPipe from "./MemoryPipe.ts"

/**
 * `Socket.Socket` over a memory endpoint, written after `NodeSocket.fromDuplex` so that code which runs over Node TCP runs the same over memory:
 *
 * @since 0.1.0
 */
export * as MemorySocket from "./MemorySocket.ts"

/**
 * A seeded scheduler for the memory network: it picks the order in which what travels between peers arrives, so that one test explores many interleavings instead of the one the runtime happens to produce, and the same seed gives the same run, event for event and byte for byte.
 *
 * @since 0.1.0
 */
export * as NetworkScheduler from "./NetworkScheduler.ts"

/**
 * Leak checks for tests over real TCP: Node's active handles of the TCP kinds (`TCPSocketWrap` for sockets, `TCPServerWrap` for listeners) must return to what they were before the test.
 *
 * @since 0.1.0
 */
export * as NodeHandles from "./NodeHandles.ts"

/**
 * A real `redis-server` for tests: started on a free loopback port in a temporary folder, with persistence off, for the life of a scope; it can be stopped and started again on the same port mid-test (a Redis outage).
 *
 * @since 0.1.0
 */
export * as RedisServer from "./RedisServer.ts"

/**
 * Real processes for tests: a command started in its own process group for the life of a scope, ready once its output matches a pattern, with waits on what it prints later, a kill with any signal, and a stop of the whole group when the scope closes.
 *
 * @since 0.1.0
 */
export * as Spawned from "./Spawned.ts"

/**
 * Real loopback TCP as a `TestTransport`: binds 127.0.0.1 port 0 with the listener the product uses (`@socket-to-me/node`'s `NodeTransport`), dials it with Node's `net`, and checks that open TCP handles return to baseline. With `TestTransport.memory`, it is what lets one test body run over the memory network and over real TCP (`all`).
 *
 * @since 0.1.0
 */
export * as TcpTransport from "./TcpTransport.ts"

/**
 * A scripted client for tests: connect, send lines or bytes, read exact sizes or lines, expect a line, read until the server closes and see how the connection ended. Every wait is bounded by a deadline on the wall clock, so a missing reply fails the test with what was received instead of hanging it (and `TestClock` moving does not trip it).
 *
 * @since 0.1.0
 */
export * as TestPeer from "./TestPeer.ts"

/**
 * One test body, any transport: a `TestTransport` binds a listener and dials it, so the same test runs over the memory network and over real loopback TCP. The memory implementation lives here; the TCP one is `TcpTransport`. `TransportContract` checks any `TestTransport` against what core needs.
 *
 * @since 0.1.0
 */
export * as TestTransport from "./TestTransport.ts"

/**
 * Defaults of the testkit's in-memory transport, each with the reason for its value. Tests override them through `MemoryNetwork.make` options.
 *
 * @since 0.1.0
 */
export * as TestkitConfig from "./TestkitConfig.ts"

/**
 * Certificates for TLS tests, made when first asked for with `openssl` (P-256 keys, valid for a day) in a temporary folder removed when the process exits: a test CA, a server certificate it signs for `localhost` and `127.0.0.1`, a client certificate it signs, and a self-signed client certificate no one trusts.
 *
 * @since 0.1.0
 */
export * as TlsCertificates from "./TlsCertificates.ts"

/**
 * The transport contract as cases: what every transport core runs over must do, checked the same way over each. The memory network and the product's Node TCP socket both pass it (`TcpTransport.all`); a transport of your own passes it before core runs on it.
 *
 * @since 0.1.0
 */
export * as TransportContract from "./TransportContract.ts"

/**
 * The errors a transport reports, built the way Node's `net` module reports them: a `SocketError` whose reason carries an `Error` with an errno `code` (`ECONNRESET`, `EPIPE`, `ECONNREFUSED`, ...). The memory transport and the fault wrappers both use these, so code that classifies socket errors by `cause.code` (`@socket-to-me/node`'s `NodeErrors`, which memory sockets declare as their failure reasons) sees the same values it would see over real TCP.
 *
 * @since 0.1.0
 */
export * as TransportErrors from "./TransportErrors.ts"
