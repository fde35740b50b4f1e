// Entry of a decoder worker thread: registers tsx in this thread (loader hooks are per thread), then loads the worker.
import { register } from "tsx/esm/api"

register()
await import("./decode-worker.ts")
