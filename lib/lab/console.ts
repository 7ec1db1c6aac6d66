// Splits the guest's serial console into boot noise, the command's output and
// shutdown noise, using the marker lines lab/init.sh prints around the
// command. Text arrives in arbitrary chunks, so a chunk ending in what may be the
// start of a marker is held back until the next one decides.

export type Phase = "boot" | "command" | "after";

export interface ConsoleSink {
  /** Text of the current phase, as it arrives. */
  text(phase: Phase, text: string): void;
  /** The phase changed (start or end marker seen). */
  phase(phase: Phase): void;
}

export function markers(id: string): { start: string; end: string } {
  return { start: `@@lab-start-${id}@@\n`, end: `@@lab-end-${id}@@\n` };
}

/** Length of the longest tail of `text` that is a proper prefix of `marker`. */
function partialMarkerTail(text: string, marker: string): number {
  for (let n = Math.min(marker.length - 1, text.length); n > 0; n--) {
    if (text.endsWith(marker.slice(0, n))) return n;
  }
  return 0;
}

export class ConsoleSplitter {
  #phase: Phase = "boot";
  #held = "";
  readonly #start: string;
  readonly #end: string;

  constructor(
    id: string,
    private readonly sink: ConsoleSink,
  ) {
    ({ start: this.#start, end: this.#end } = markers(id));
  }

  get phase(): Phase {
    return this.#phase;
  }

  /** Feeds console text; carriage returns (the tty's \r\n) are dropped here. */
  push(chunk: string): void {
    let text = this.#held + chunk.replaceAll("\r", "");
    this.#held = "";
    while (text.length > 0) {
      const marker = this.#phase === "boot" ? this.#start : this.#phase === "command" ? this.#end : null;
      if (marker === null) {
        this.sink.text(this.#phase, text);
        return;
      }
      const at = text.indexOf(marker);
      if (at < 0) {
        const keep = partialMarkerTail(text, marker);
        if (text.length > keep) this.sink.text(this.#phase, text.slice(0, text.length - keep));
        this.#held = text.slice(text.length - keep);
        return;
      }
      if (at > 0) this.sink.text(this.#phase, text.slice(0, at));
      this.#phase = this.#phase === "boot" ? "command" : "after";
      this.sink.phase(this.#phase);
      text = text.slice(at + marker.length);
    }
  }

  /** The console closed: whatever was held back was not a marker after all. */
  end(): void {
    if (this.#held) this.sink.text(this.#phase, this.#held);
    this.#held = "";
  }
}
