/**
 * Bundles the agent inbox (React) with Bun's bundler into memory. The server builds it on the first
 * request for /app and then serves the files from memory: no CDN, nothing fetched at run time.
 * ECharts is split into its own chunk, loaded only when a supervisor opens the wallboard.
 */
export type WebAsset = { body: Uint8Array<ArrayBuffer>; type: string };

export async function buildInbox(): Promise<Map<string, WebAsset>> {
  const result = await Bun.build({
    entrypoints: [`${import.meta.dir}/main.tsx`],
    target: "browser",
    format: "esm",
    splitting: true,
    minify: true,
    naming: { entry: "[name]-[hash].[ext]", chunk: "chunk-[hash].[ext]", asset: "[name]-[hash].[ext]" },
    define: { "process.env.NODE_ENV": JSON.stringify("production") },
  });
  if (!result.success) throw new AggregateError(result.logs, "inbox build failed");
  const assets = new Map<string, WebAsset>();
  let script = "";
  let style = "";
  for (const out of result.outputs) {
    const name = out.path.replace(/^\.\//, "");
    assets.set(name, { body: new Uint8Array(await out.arrayBuffer()), type: out.type });
    if (out.kind === "entry-point" && name.endsWith(".js")) script = name;
    if (name.endsWith(".css")) style = name;
  }
  assets.set("index.html", { body: new TextEncoder().encode(shell(script, style)), type: "text/html; charset=utf-8" });
  return assets;
}

function shell(script: string, style: string) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard</title>
${style ? `<link rel="stylesheet" href="/app/${style}">` : ""}
<script type="module" src="/app/${script}"></script>
</head>
<body><div id="root"></div></body>
</html>`;
}

if (import.meta.main) {
  const started = performance.now();
  const assets = await buildInbox();
  let raw = 0;
  let gz = 0;
  for (const [name, a] of assets) {
    raw += a.body.length;
    gz += Bun.gzipSync(a.body).length;
    console.log(
      `${name.padEnd(32)} ${(a.body.length / 1024).toFixed(1).padStart(8)} KB  ${(Bun.gzipSync(a.body).length / 1024).toFixed(1).padStart(7)} KB gz`,
    );
  }
  console.log(
    `total ${(raw / 1024).toFixed(1)} KB, ${(gz / 1024).toFixed(1)} KB gzipped, built in ${Math.round(performance.now() - started)} ms`,
  );
}
