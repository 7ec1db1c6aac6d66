// Reads the JUnit XML that `bun test --reporter=junit` writes, so that tests run
// inside the lab VM are reported one by one on the host.
export interface CaseResult {
  file: string;
  name: string;
  status: "pass" | "fail" | "skip";
  message: string;
}

const unescape = (s: string): string =>
  s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&#10;/g, "\n").replace(/&amp;/g, "&");

const attr = (tag: string, name: string): string => unescape(new RegExp(`\\b${name}="([^"]*)"`).exec(tag)?.[1] ?? "");

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
      message: failure ? unescape(`${attr(failure[2] ?? "", "message")}\n${failure[3] ?? ""}`).trim() : "",
    });
  }
  return out;
}
