function escapeAttribute(s: string) {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/**
 * The tag a site owner pastes into their pages, exactly as docs/widget.md documents it:
 * `<script src="https://HOST/widget.js" data-inbox="PUBLIC_KEY" async></script>`.
 */
export function embedSnippet(publicUrl: string, publicKey: string) {
  return `<script src="${escapeAttribute(publicUrl.replace(/\/$/, ""))}/widget.js" data-inbox="${escapeAttribute(publicKey)}" async></script>`;
}
