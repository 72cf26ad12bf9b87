/** Bundles the widget into one minified script; the server builds it once at start-up and serves /widget.js. */
export async function buildWidget(): Promise<string> {
  const result = await Bun.build({
    entrypoints: [`${import.meta.dir}/widget.ts`],
    target: "browser",
    minify: true,
    format: "iife",
  });
  const output = result.outputs[0];
  if (!result.success || !output) throw new AggregateError(result.logs, "widget build failed");
  return output.text();
}

if (import.meta.main) {
  const js = await buildWidget();
  const path = `${import.meta.dir}/dist/widget.js`;
  await Bun.write(path, js);
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
  console.log(`${path}: ${kb(Buffer.byteLength(js))} raw, ${kb(Bun.gzipSync(js).length)} gzipped`);
}
