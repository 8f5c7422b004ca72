import { defineConfig } from "vitest/config"

// The packages' `exports` send this condition to their TypeScript sources
// (without it: the built dist/), so tests always run the code as it is now.
// Setting conditions replaces Vite's defaults, so they are listed after it
// (vite's `defaultServerConditions`; vite is not a direct dependency here).
const conditions = ["@socket-to-me/source", "module", "node", "development|production"]

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ["packages/*/test/**/*.test.ts", "examples/*/test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Servers under test log every connection's end at Info: thousands of
    // lines that bury what matters. Info and Debug lines from Effect's logger
    // are dropped; warnings, errors and everything else still show.
    onConsoleLog: (log) => !/^\[[\d:.]+\] (INFO|DEBUG|TRACE) \(#\d+\)/.test(log)
  }
})
