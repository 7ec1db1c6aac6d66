// Reads the JUnit XML that `bun test --reporter=junit` writes, so that tests run
// inside the lab VM are reported one by one on the host.
export interface CaseResult {
  file: string;
  name: string;
  status: "pass" | "fail" | "skip";
  message: string;
}

const unescapeXml = (s: string): string =>
  s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#10;/g, "\n")
    .replace(/&amp;/g, "&");

const attr = (tag: string, name: string): string => unescapeXml(new RegExp(`\\b${name}="([^"]*)"`).exec(tag)?.[1] ?? "");

export function parseJunit(xml: string): CaseResult[] {
  const out: CaseResult[] = [];
  const re = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    const head = m[1] ?? "";
    const body = m[3] ?? "";
    const failure = /<(failure|error)\b([^>]*?)(?:\/>|>([\s\S]*?)<\/\1>)/.exec(body);
    out.push({
      file: attr(head, "file") || attr(head, "classname"),
      name: attr(head, "name"),
      status: failure ? "fail" : /<skipped\b/.test(body) ? "skip" : "pass",
      message: failure ? unescapeXml(`${attr(failure[2] ?? "", "message")}\n${failure[3] ?? ""}`).trim() : "",
    });
  }
  return out;
}

/**
 * How many tests a test file declares: calls of test()/it() and their
 * modifiers (test.skip, test.skipIf(…)(…)) at the start of a line. A test made
 * in a loop counts once, so this is a floor, which is what the check needs.
 */
export function declaredTests(source: string): number {
  return source.match(/^\s*(?:test|it)(?:\(|\.(?:skip|skipIf|if|todo|only|failing)\b)/gm)?.length ?? 0;
}

/**
 * The verdict on one lab VM run, "" when sound. Bun writes no JUnit entry for
 * a file that throws at import and exits 1, so a run whose other files pass
 * would hide it: every file must report at least the tests it declares, and a
 * non-zero exit with no failed test is itself a failure.
 */
export function verdict(exitCode: number, files: { file: string; declared: number }[], results: CaseResult[]): string {
  if (results.length === 0) return `the lab run (exit ${exitCode}) reported no tests`;
  const short = files
    .map(({ file, declared }) => ({ file, declared, got: results.filter((r) => sameFile(r.file, file)).length }))
    .filter(({ declared, got }) => got < Math.max(1, declared))
    .map(
      ({ file, declared, got }) => `${file} reported ${got} of the ${Math.max(1, declared)} tests it declares (did it throw at import?)`,
    );
  if (short.length > 0) return short.join("\n");
  if (exitCode !== 0 && !results.some((r) => r.status === "fail")) {
    return `the guest's bun test exited ${exitCode} although no reported test failed (a file that failed to load?)`;
  }
  return "";
}

/** JUnit names files as given on the command line or relative to the cwd: "./test/lab/a.lab.ts" ~ "test/lab/a.lab.ts". */
const sameFile = (a: string, b: string) => a.replace(/^\.\//, "") === b.replace(/^\.\//, "");
