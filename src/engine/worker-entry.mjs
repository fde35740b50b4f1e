// A worker thread's entry point: registers tsx in this thread (hooks are per thread), then loads the TypeScript worker.
import { register } from "tsx/esm/api"

register()
await import("./worker.ts")
