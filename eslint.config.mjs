// Lint rules for the whole repo (ESLint 9 flat config). tsc already checks
// types and unused names; lint adds what tsc cannot see: committed focus/skip
// markers in tests and stray console.log in library code.
import js from "@eslint/js"
import { defineConfig } from "eslint/config"
import globals from "globals"
import tseslint from "typescript-eslint"

// A focused or skipped test silently shrinks the suite, so none may be
// committed. Matched on the member chain so that it also catches the
// @effect/vitest forms: it.only, describe.skip, it.effect.only,
// it.live.skipIf(...), it.effect.prop.todo, ...
const testRoot = "/^(it|test|describe|suite)$/"
const disabling = "/^(only|skip|skipIf|todo)$/"
const noDisabledTests = ["object.name", "object.object.name", "object.object.object.name"].map((path) => ({
  selector: `MemberExpression[${path}=${testRoot}][property.name=${disabling}]`,
  message: "Focused, skipped and todo tests must not be committed: they silently shrink the suite."
}))

export default defineConfig(
  {
    // scratch/ folders hold uncommitted experiments and dist/ is built; like tsconfig.json, lint
    // covers only what ships or tests it.
    ignores: [".examples/**", "tools/**", "bench/results/**", "coverage/**", "packages/*/scratch/**", "packages/*/dist/**", "tarballs/**"]
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      globals: globals.node
    },
    rules: {
      // Effect.gen bodies that only `return` are normal (a step that may
      // yield later, or a generator kept for uniform style).
      "require-yield": "off",
      // `Data.TaggedClass("Done")<{}>` (no fields) and `interface Options
      // extends Connection.Options {}` (a named extension point) are Effect
      // idioms, not the "any non-nullish value" mistake this rule targets.
      "@typescript-eslint/no-empty-object-type": ["error", { allowObjectTypes: "always", allowInterfaces: "with-single-extends" }],
      // Wire protocols match control bytes (NUL, CR, LF, ...) on purpose.
      "no-control-regex": "off",
      // `export declare namespace X { type ... }` is how Effect style groups
      // a module's types; erasableSyntaxOnly already forbids runtime namespaces.
      "@typescript-eslint/no-namespace": ["error", { allowDeclarations: true }],
      // Same convention as tsc's noUnused*: a leading underscore opts out.
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_" }
      ],
      "no-restricted-syntax": ["error", ...noDisabledTests],
      // Library code logs through Effect's Logger (levels, spans, connection
      // ids); printing to stdout is for the CLI and the repo scripts.
      "no-restricted-properties": [
        "error",
        { object: "console", property: "log", message: "Use Effect's Logger; console.log is for packages/apps/src/cli and scripts." }
      ]
    }
  },
  {
    files: ["packages/apps/src/cli/**", "scripts/**"],
    rules: { "no-restricted-properties": "off" }
  },
  {
    // The package seams (docs/architecture.md): a package reaches another
    // only through its public entry points, never its src/ by path.
    files: ["packages/*/src/**/*.ts", "packages/*/test/**/*.ts", "examples/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        patterns: [{ regex: "(^|/)(packages/)?(core|node|testkit|apps)/src/", message: "Import another package by its name (@socket-to-me/...), not its src/ by path." }]
      }]
    }
  },
  {
    // Core runs over any transport: it imports effect only.
    files: ["packages/core/src/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        patterns: [
          { regex: "^node:", message: "core imports effect only; Node code lives in @socket-to-me/node." },
          { regex: "^@effect/platform", message: "core imports effect only; platform code lives in @socket-to-me/node." },
          { regex: "^(\\.\\./)+(core|node|testkit|apps)/src/", message: "Import another package by its name." }
        ]
      }]
    }
  }
)
