/** The browser's side of the agent API: bearer token from the session, errors as ApiError. */

export type ApiErrorBody = { error: { code: string; message: string; field?: string } };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

const TOKEN_KEY = "sb.token";

type Listener = () => void;
const expiredListeners = new Set<Listener>();

export const session = {
  get token() {
    return localStorage.getItem(TOKEN_KEY);
  },
  set(token: string) {
    localStorage.setItem(TOKEN_KEY, token);
  },
  clear() {
    localStorage.removeItem(TOKEN_KEY);
  },
  /** Called when the server says the session is no longer valid (expired, signed out elsewhere). */
  onExpired(fn: Listener) {
    expiredListeners.add(fn);
    return () => void expiredListeners.delete(fn);
  },
};

export async function request<T = any>(
  path: string,
  init: { method?: string; body?: unknown; form?: FormData } = {},
): Promise<T> {
  const headers: Record<string, string> = {};
  const token = session.token;
  if (token) headers.authorization = `Bearer ${token}`;
  let body: BodyInit | undefined;
  if (init.form) body = init.form;
  else if (init.body !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(init.body);
  }
  const res = await fetch(`/api/v1${path}`, { method: init.method ?? (body ? "POST" : "GET"), headers, body });
  const text = await res.text();
  const json = text ? safeJson(text) : undefined;
  if (!res.ok) {
    const err = (json as ApiErrorBody | undefined)?.error;
    if (res.status === 401 && token && !path.startsWith("/auth/")) {
      session.clear();
      for (const fn of expiredListeners) fn();
    }
    throw new ApiError(res.status, err?.code ?? "http_error", err?.message ?? `HTTP ${res.status}`, err?.field);
  }
  return json as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Files need the bearer token too, so they are fetched and shown from a blob URL. */
export async function fileUrl(url: string): Promise<string> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${session.token ?? ""}` } });
  if (!res.ok) throw new ApiError(res.status, "file", `HTTP ${res.status}`);
  return URL.createObjectURL(await res.blob());
}
