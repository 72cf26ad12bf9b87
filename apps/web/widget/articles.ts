import type { Api, Article } from "./api.ts";

/** Article lookups wait for a pause in typing and a couple of characters (one Chinese word). */
const LOOKUP_DEBOUNCE_MS = 350;
const LOOKUP_MIN_CHARS = 2;

/** As the visitor types, public help articles that may answer them before an agent does. */
export class ArticleLookup {
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Only the answer to the latest draft is shown, however the lookups' answers arrive. */
  private seq = 0;

  constructor(
    private readonly api: Api,
    private readonly show: (items: Article[]) => void,
  ) {}

  lookup(text: string) {
    clearTimeout(this.timer);
    const q = text.trim();
    const seq = ++this.seq;
    if ([...q].length < LOOKUP_MIN_CHARS || !this.api.token) return this.show([]);
    this.timer = setTimeout(() => {
      this.api.articles(q).then(
        (r) => seq === this.seq && this.show(r.items),
        () => seq === this.seq && this.show([]),
      );
    }, LOOKUP_DEBOUNCE_MS);
  }
}
