/**
 * Every limit the framework enforces, with its default and the reason for it.
 *
 * Nothing in Socket To Me is unbounded: a number that caps memory, time or
 * concurrency is named here once, and servers, codecs and CLIs read it from
 * here (CLIs let flags and environment variables override it).
 *
 * @since 0.1.0
 */

/**
 * Largest line, in bytes, that the line codec accepts (terminator excluded).
 * 64 KiB holds any human-typed line with room to spare while keeping one
 * hostile connection's partial line from costing more than that.
 *
 * @since 0.1.0
 * @category defaults
 */
export const maxLineBytes = 64 * 1024

/**
 * Largest payload, in bytes, that the length-prefixed codec accepts. 16 MiB
 * lets a protocol send large messages while the u32 prefix (up to 4 GiB)
 * never makes the server allocate what a peer merely claims.
 *
 * @since 0.1.0
 * @category defaults
 */
export const maxFrameBytes = 16 * 1024 * 1024

/**
 * Capacity, in chunks, of each connection's outbound queue between the app
 * and the writer fiber. Small on purpose: the queue only smooths bursts; when
 * it is full the app waits (backpressure) instead of buffering.
 *
 * @since 0.1.0
 * @category defaults
 */
export const outboundQueueChunks = 64

/**
 * Bytes each connection's write stage holds at most: its outbound queue,
 * plus what was handed to the socket while the socket asks to wait
 * (`Outbound`). The chunk count alone bounded nothing for large chunks: 64
 * socket reads of 64 KiB, queued and then handed to the socket in one
 * batch, were about 4 MiB per connection that does not read. 128 KiB is
 * two such reads (or two files data frames): enough to keep the kernel's
 * send buffer, which is the real buffer, fed when it drains, and small
 * enough that 1024 stalled connections hold 128 MiB at most here. A
 * single offer larger than this is still taken, alone.
 *
 * @since 0.1.0
 * @category defaults
 */
export const outboundQueueBytes = 128 * 1024

/**
 * When an app fails (a protocol error, a slow consumer cut off), what it
 * already queued for the peer (typically its error reply) is still written
 * for up to this long, then the connection is closed at once. One second is
 * plenty for a peer that reads, and bounds what a peer that does not read
 * can cost.
 *
 * @since 0.1.0
 * @category defaults
 */
export const failureFlushTimeout = "1 second"

/**
 * How many times a client retries a refused or failed connect, and the first
 * delay between tries (doubled each time). A server that restarts within a
 * few seconds is reached; one that is down makes the client fail promptly.
 *
 * @since 0.1.0
 * @category defaults
 */
export const connectRetries = 5

/**
 * First delay between client connect attempts, in milliseconds.
 *
 * @since 0.1.0
 * @category defaults
 */
export const connectRetryBaseMillis = 100

/**
 * Connections served at once by one server. Past it, new connections are
 * refused (closed at once, with the app's refusal message if it has one):
 * a client learns immediately that the server is full, and the server never
 * holds sockets (file descriptors, buffers) it is not serving. 1024 fits the
 * common default file-descriptor limit with room for files and listeners.
 *
 * @since 0.1.0
 * @category defaults
 */
export const maxConnections = 1024

/**
 * A connection with no traffic in either direction for this long is closed
 * (`IdleTimeout`). Five minutes keeps interactive sessions (chat) open while
 * reclaiming half-open peers that vanished without a FIN.
 *
 * @since 0.1.0
 * @category defaults
 */
export const idleTimeout = "5 minutes"

/**
 * A frame that has started must be complete within this time
 * (`FrameTimeout`), so a peer trickling one byte at a time (slowloris) cannot
 * hold a connection and its partial buffer forever. 30 seconds is far above
 * what any honest peer needs to send one capped frame.
 *
 * @since 0.1.0
 * @category defaults
 */
export const frameDeadline = "30 seconds"

/**
 * How long a draining server waits for its connections to finish before it
 * interrupts them. Five seconds lets in-flight requests and goodbyes complete
 * and stays well inside the usual 10 second SIGTERM-to-SIGKILL window of
 * process supervisors.
 *
 * @since 0.1.0
 * @category defaults
 */
export const shutdownGrace = "5 seconds"

/**
 * Messages an actor's mailbox holds before `tell` waits (backpressure). 1024
 * absorbs a burst from every connection of a full server at once (one
 * message each) while capping what a stalled actor can pile up.
 *
 * @since 0.1.0
 * @category defaults
 */
export const actorMailboxSize = 1024

/**
 * An actor that restarts more than this many times within
 * `actorRestartWindow` stops instead: a rare failing message is survived, a
 * handler that fails on every message does not spin and flood the log.
 *
 * @since 0.1.0
 * @category defaults
 */
export const actorMaxRestarts = 10

/**
 * The window over which `actorMaxRestarts` is counted.
 *
 * @since 0.1.0
 * @category defaults
 */
export const actorRestartWindow = "1 second"

/**
 * Messages a broadcast subscriber's queue holds before its slow-consumer
 * policy applies. 256 lets a reader that pauses for a moment (a busy
 * terminal, a network hiccup) catch up with a burst of messages, and bounds
 * what one stalled reader costs the server.
 *
 * @since 0.1.0
 * @category defaults
 */
export const subscriberQueueSize = 256

