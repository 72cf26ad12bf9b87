import { XMLParser } from "fast-xml-parser";

/** A TwiML verb as read back: name, attributes, text and nested verbs (Gather's Say, Dial's Conference). */
export type Verb = { verb: string; attrs: Record<string, string>; text: string; children: Verb[] };

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "",
  preserveOrder: true,
  textNodeName: "#text",
  parseTagValue: false,
  parseAttributeValue: false,
});

type Node = Record<string, unknown> & { ":@"?: Record<string, string> };

function toVerbs(nodes: Node[]): Verb[] {
  const out: Verb[] = [];
  for (const n of nodes) {
    const name = Object.keys(n).find((k) => k !== ":@");
    if (!name || name === "#text" || name === "?xml") continue;
    const inner = (n[name] as Node[]) ?? [];
    const text = inner
      .filter((c) => "#text" in c)
      .map((c) => String(c["#text"]))
      .join("");
    out.push({ verb: name, attrs: n[":@"] ?? {}, text, children: toVerbs(inner) });
  }
  return out;
}

/** The verbs of a TwiML document (the simulator plays them; tests assert on them). */
export function readTwiml(xml: string): Verb[] {
  const doc = parser.parse(xml) as Node[];
  const response = doc.find((n) => "Response" in n);
  if (!response) throw new Error("not TwiML: no <Response>");
  return toVerbs(response.Response as Node[]);
}

/** Every verb, nested ones included, in document order. */
export function flatVerbs(verbs: Verb[]): Verb[] {
  return verbs.flatMap((v) => [v, ...flatVerbs(v.children)]);
}

/** Everything the caller would hear said, in order. */
export function spoken(verbs: Verb[]) {
  return flatVerbs(verbs)
    .filter((v) => v.verb === "Say")
    .map((v) => v.text);
}
