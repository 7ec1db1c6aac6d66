// Reads the JUnit XML that `bun test --reporter=junit` writes, so that tests run
// inside the lab VM are reported one by one on the host.
export interface CaseResult {
  file: string;
  /** The enclosing describe() names, joined by " > " ("" at the top level). */
  suite: string;
  name: string;
  /** The source line bun gives the test (the line of its name argument); 0 when absent. */
  line: number;
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
      suite: attr(head, "file") ? attr(head, "classname") : "",
      name: attr(head, "name"),
      line: Number(attr(head, "line")) || 0,
      status: failure ? "fail" : /<skipped\b/.test(body) ? "skip" : "pass",
      message: failure ? unescapeXml(`${attr(failure[2] ?? "", "message")}\n${failure[3] ?? ""}`).trim() : "",
    });
  }
  return out;
}

/** A test's name as the summary and the reviewed skip list give it: "file > describe > name". */
export const fullName = (r: Pick<CaseResult, "file" | "suite" | "name">): string =>
  [r.file.replace(/^\.\//, ""), r.suite, r.name].filter(Boolean).join(" > ");

/**
 * Where a test file declares tests: the 1-based lines of calls of test()/it()
 * and their modifiers (test.each(…)(…), test.skip, test.skipIf(…)(…)) at the
 * start of a line. A site in a loop or a test.each registers several tests;
 * each site must register at least one.
 */
export function declarationSites(source: string): number[] {
  const sites: number[] = [];
  for (const [i, line] of source.split("\n").entries())
    if (/^\s*(?:test|it)(?:\(|\.(?:each|skip|skipIf|if|todo|only|failing)\b)/.test(line)) sites.push(i + 1);
  return sites;
}

/** How many declaration sites a file has: a floor for the tests it reports. */
export function declaredTests(source: string): number {
  return declarationSites(source).length;
}

/**
 * The declaration sites of a file that reported no test: bun gives each test
 * the line of its name argument, which lies between its own site and the next.
 * A file that threw at import, or a describe() callback that threw before
 * reaching a test, leaves sites unreported.
 */
export function unreportedSites(sites: number[], results: Pick<CaseResult, "line">[]): number[] {
  return sites.filter((site, i) => {
    const end = sites[i + 1] ?? Number.POSITIVE_INFINITY;
    return !results.some((r) => r.line >= site && r.line < end);
  });
}

/**
 * The verdict on one lab VM run, "" when sound. Bun writes no JUnit entry for
 * a file that throws at import and exits 1, so a run whose other files pass
 * would hide it: every file must report at least the tests it declares, and a
 * non-zero exit with no failed test is itself a failure.
 */
export function verdict(exitCode: number, files: { file: string; sites: number[] }[], results: CaseResult[]): string {
  if (results.length === 0) return `the lab run (exit ${exitCode}) reported no tests`;
  const short = files.flatMap(({ file, sites }) => {
    const mine = results.filter((r) => sameFile(r.file, file));
    const declared = Math.max(1, sites.length);
    if (mine.length < declared) return [`${file} reported ${mine.length} of the ${declared} tests it declares (did it throw at import?)`];
    const missing = unreportedSites(sites, mine);
    return missing.length
      ? [`${file}: the tests declared at line ${missing.join(", ")} reported nothing (did a describe() callback throw?)`]
      : [];
  });
  if (short.length > 0) return short.join("\n");
  if (exitCode !== 0 && !results.some((r) => r.status === "fail")) {
    return `the guest's bun test exited ${exitCode} although no reported test failed (a file that failed to load?)`;
  }
  return "";
}

/** JUnit names files as given on the command line or relative to the cwd: "./test/lab/a.lab.ts" ~ "test/lab/a.lab.ts". */
const sameFile = (a: string, b: string) => a.replace(/^\.\//, "") === b.replace(/^\.\//, "");
