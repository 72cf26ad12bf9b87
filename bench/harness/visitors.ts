/** Load from the visitors' side: widget sessions and messages over HTTP, as the chat widget sends them. */

// Bounds every request, so a stuck server cannot hang a run: `bench ingest`'s run (5 s) plus its grace
// for late pushes (10 s), so no message that could still count is cut off.
const REQUEST_TIMEOUT_MS = 15_000;

export async function postJson<T>(url: string, body: unknown, expected: number): Promise<T> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  if (res.status !== expected) throw new Error(`POST ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** `count` widget sessions on the inbox; their visitor tokens. */
export async function createVisitors(url: string, inboxKey: string, count: number) {
  const tokens: string[] = [];
  // A few at a time: set-up, not what is measured.
  while (tokens.length < count) {
    const batch = Math.min(20, count - tokens.length);
    const sessions = await Promise.all(
      Array.from({ length: batch }, () =>
        postJson<{ visitorToken: string }>(`${url}/widget/v1/sessions`, { inboxKey }, 200),
      ),
    );
    tokens.push(...sessions.map((s) => s.visitorToken));
  }
  return tokens;
}

/** One visitor message; true when the server stored it (201). Failures count, they do not throw. */
export async function sendMessage(url: string, visitorToken: string, text: string) {
  try {
    const res = await fetch(`${url}/widget/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${visitorToken}` },
      body: JSON.stringify({ text }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    await res.arrayBuffer();
    return res.status === 201;
  } catch {
    return false;
  }
}
