/** Command stages: stages defined by the program they run (see command.ts for the protocol a program sees). */
export { type CommandDefinition, type CommandPaths, type CommandRunOptions, stage } from "./command.ts"
