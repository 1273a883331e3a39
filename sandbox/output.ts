import { SUBMISSION_FILENAME } from "./prelude.ts";

/**
 * Console output gathered from an isolate, capped again outside it since the in-isolate cap can be
 * tampered with. A job reads it whole (`result`); an env session hands it out piece by piece (`take`).
 */
export class ConsoleCollector {
  private text = "";
  private bytes = 0;
  private truncated = false;
  private taken = 0;
  private markerTaken = false;

  constructor(private readonly cap: number) {}

  append(chunk: string, truncatedInside: boolean): void {
    if (!this.truncated && chunk.length > 0) {
      const size = Buffer.byteLength(chunk);
      if (this.bytes + size <= this.cap) {
        this.text += chunk;
        this.bytes += size;
      } else {
        const kept = Buffer.from(chunk)
          .subarray(0, this.cap - this.bytes)
          .toString();
        this.text += kept.endsWith("\uFFFD") ? kept.slice(0, -1) : kept;
        this.bytes = this.cap;
        this.truncated = true;
      }
    }
    if (truncatedInside) this.truncated = true;
  }

  result(): { text: string; truncated: boolean } {
    return { text: this.text + (this.truncated ? this.marker() : ""), truncated: this.truncated };
  }

  /** What was appended since the last `take`, with the truncation marker once, after the last kept byte. */
  take(): string {
    let out = this.text.slice(this.taken);
    this.taken = this.text.length;
    if (this.truncated && !this.markerTaken) {
      out += this.marker();
      this.markerTaken = true;
    }
    return out;
  }

  private marker(): string {
    return `\n[console output truncated at ${this.cap} bytes]\n`;
  }
}

/** Keeps the stack frames that point into the submitted code; the rest is sandbox plumbing. */
export function submissionFrames(stack: string | undefined): string | undefined {
  if (!stack) return undefined;
  const frames = stack
    .split("\n")
    .filter((line) => line.includes(SUBMISSION_FILENAME) && line.trimStart().startsWith("at "))
    .map((line) => line.trim());
  return frames.length > 0 ? frames.slice(0, 20).join("\n") : undefined;
}
