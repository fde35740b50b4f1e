#!/usr/bin/env node
// Registers tsx so that both ouroboros (TypeScript source) and pipeline files (.ts) load without a build step.
import { register } from "tsx/esm/api"

register()
await import("../src/cli/main.ts")
