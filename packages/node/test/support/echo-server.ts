/**
 * An echo server as a user writes one: the Runner serving the identity
 * handler on 127.0.0.1 (port 0) with its metrics endpoint (port 0), both
 * printing where they listen. Tests start it in a child process, where they
 * can lower its file-descriptor limit.
 */
import { Runner } from "@socket-to-me/node"

Runner.runMain(Runner.serve((input) => input, { name: "echo", host: "127.0.0.1", port: 0, metricsPort: 0 }))
