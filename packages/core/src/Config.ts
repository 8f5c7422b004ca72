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
