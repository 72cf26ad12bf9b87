/** WeChat answers within a second or two; a request still open after this is retried by the outbox. */
export const API_TIMEOUT_MS = 10_000;

/** A path of WeChat's API under the base, which may carry a path of its own (a stand-in behind a proxy). */
export function apiUrl(apiBase: string, path: string, query: Record<string, string>) {
  const url = new URL(apiBase.replace(/\/+$/, "") + path);
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  return url;
}

export type WechatAnswer = { answer: Record<string, unknown>; raw: string };

/**
 * One request to the Official Account API: its JSON answer, and the raw text for fields JSON numbers
 * would round. WeChat reports its own errors as HTTP 200 with `errcode`; anything else (another status,
 * a body that is not a JSON object, no answer at all) is a passing fault the outbox retries. The access
 * token and the AppSecret travel in the query string, so messages name a request by its purpose, never
 * by its URL.
 */
export async function callWechat(
  doFetch: typeof fetch,
  url: URL,
  init: RequestInit,
  purpose: string,
): Promise<WechatAnswer> {
  let res: Response;
  let raw: string;
  try {
    res = await doFetch(url, { ...init, signal: AbortSignal.timeout(API_TIMEOUT_MS) });
    raw = await res.text();
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`WeChat could not be reached for ${purpose}: ${withoutSecrets(reason)}`);
  }
  if (res.status !== 200) throw new Error(`WeChat answered HTTP ${res.status} to the request for ${purpose}`);
  let answer: unknown;
  try {
    answer = JSON.parse(raw);
  } catch {
    answer = undefined;
  }
  if (!answer || typeof answer !== "object" || Array.isArray(answer))
    throw new Error(`WeChat answered the request for ${purpose} with something other than a JSON object`);
  return { answer: answer as Record<string, unknown>, raw };
}

/** WeChat's error code of an answer: 0 (or absent) is success. */
export function errcodeOf(answer: Record<string, unknown>) {
  if (answer.errcode === undefined || answer.errcode === null) return 0;
  const code = Number(answer.errcode);
  return Number.isInteger(code) ? code : -1;
}

/** WeChat (and WeCom) refused the access token: expired early, or replaced by another fetch. */
export const STALE_TOKEN = new Set([40001, 40014, 42001]);

/** Where a call gets its access token, and how it tells the cache that WeChat refused one. */
export type TokenLease = { get(): Promise<string>; invalidate(staleToken: string): void };

/** Runs a request with a token; when WeChat refuses the token, once more with a freshly fetched one. */
export async function withFreshToken<T>(
  tokens: TokenLease,
  request: (token: string) => Promise<T>,
  errcode: (answer: T) => number | undefined,
): Promise<T> {
  const token = await tokens.get();
  const answer = await request(token);
  const code = errcode(answer);
  if (code === undefined || !STALE_TOKEN.has(code)) return answer;
  tokens.invalidate(token);
  return request(await tokens.get());
}

/** A network error can quote the URL it failed on, and ours carry the access token or the AppSecret. */
function withoutSecrets(text: string) {
  return text.replace(/(access_token|secret)=[^&\s"']*/gi, "$1=…");
}
