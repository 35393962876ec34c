/** POSIX sh scripts from typed steps: every word quoted by one function, nothing concatenated by hand. */
import { describeValue } from "../nomad/internal";

/** An environment variable used as (part of) a word: rendered `"${NAME}"`. */
export class ShellVar {
  /** A reference to the variable `name` (upper-case letters, digits, underscores). */
  static of(name: string): ShellVar {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new Error(`ShellVar.of: name: received ${describeValue(name)}; expected an upper-case variable name`);
    return new ShellVar(name);
  }

  private constructor(readonly name: string) {}
}

/** A word of a command: literal text, a variable, or pieces joined without space. */
export type ShellWord = string | ShellVar | readonly (string | ShellVar)[];

/** One command of a script. */
export interface ShellStep {
  /** Comment written above the command. @default - none */
  readonly comment?: string;
  /** The command and its arguments. */
  readonly argv: readonly ShellWord[];
  /** Store the command's output in this variable (`NAME="$(...)"`) instead of printing it. @default - printed */
  readonly captureTo?: string;
}

/** Literal words the shell reads as they are. */
const PLAIN_SHELL_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

function renderPiece(piece: string | ShellVar): string {
  if (piece instanceof ShellVar) return `"\${${piece.name}}"`;
  if (/[\0\r\n]/.test(piece)) throw new Error(`shell script: word ${JSON.stringify(piece)}; expected no line break or NUL`);
  if (piece !== "" && PLAIN_SHELL_WORD.test(piece)) return piece;
  return `'${piece.replace(/'/g, `'\\''`)}'`;
}

function renderShellWord(word: ShellWord): string {
  const pieces = typeof word === "string" || word instanceof ShellVar ? [word] : word;
  if (pieces.length === 0) throw new Error("shell script: an empty word; expected at least one piece");
  return pieces.map(renderPiece).join("");
}

/**
 * A POSIX sh script: `set -eu` (stop at the first failing command or unset variable), `umask 077`,
 * then each step. Throws if a comment has a line break or a variable name is invalid.
 */
export function renderShellScript(title: string, steps: readonly ShellStep[]): string {
  const lines = ["#!/bin/sh", `# ${oneLine(title)}`, "set -eu", "umask 077"];
  for (const step of steps) {
    if (step.argv.length === 0) throw new Error("shell script: a step without command; expected argv with at least the command");
    if (step.comment) lines.push(`# ${oneLine(step.comment)}`);
    const command = step.argv.map(renderShellWord).join(" ");
    if (step.captureTo !== undefined) {
      if (!/^[A-Z_][A-Z0-9_]*$/.test(step.captureTo)) throw new Error(`shell script: captureTo: received ${describeValue(step.captureTo)}; expected an upper-case variable name`);
      lines.push(`${step.captureTo}="$(${command})"`);
    } else {
      lines.push(command);
    }
  }
  return `${lines.join("\n")}\n`;
}

function oneLine(text: string): string {
  if (/[\r\n]/.test(text)) throw new Error(`shell script: comment ${JSON.stringify(text)}; expected a single line`);
  return text;
}
