/**
 * Defaults of the testkit's in-memory transport, each with the reason for
 * its value. Tests override them through `MemoryNetwork.make` options.
 *
 * @since 0.1.0
 */

/**
 * Bytes one direction of a memory connection holds before `write` suspends.
 * 64 KiB is Node's default stream high-water mark since Node 22, so a writer
 * blocks about when it would start waiting for `'drain'` on a real socket
 * (the kernel buffers of real TCP add more slack than this).
 *
 * @since 0.1.0
 * @category defaults
 */
export const highWaterMark = 64 * 1024

/**
 * Connections a memory listener queues before `run` accepts them; further
 * dials are refused. 128 is the classic `SOMAXCONN`: far more than a test
 * dials at once, small enough that a server that never accepts is noticed.
 *
 * @since 0.1.0
 * @category defaults
 */
export const backlog = 128

/**
 * The port in the fake address a memory server reports. Nothing binds it; it
 * only has to be a valid port so code that formats the address works.
 *
 * @since 0.1.0
 * @category defaults
 */
export const port = 7357

/**
 * How many times the leak checks yield to other fibers (one event-loop turn
 * each) before declaring a leak. Closing a memory socket takes a handful of
 * turns and a real one a few more, so 1000 only fails on a real leak.
 *
 * @since 0.1.0
 * @category defaults
 */
export const leakCheckTurns = 1000
