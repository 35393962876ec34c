/** The shared renderers: YAML, Nomad templates, shell scripts. */
export * from "./yaml";
export * from "./template";
export * from "./shell";
