import { ConfigError, parseConfig } from "../../platform/config.ts";
import { log, setLogLevel } from "../../platform/log.ts";
import { seedDemo } from "../demo/seed.ts";
import { startEmailListeners, startWechatListeners } from "./listeners.ts";
import { createRuntime } from "./runtime.ts";
import { createApp, serve } from "./app.ts";

/** `bun run start`: one process running gateway, inbox API, realtime and the outbox worker. */
async function main() {
  let config;
  try {
    config = parseConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  setLogLevel(config.logLevel);
  const rt = await createRuntime(config);
  const demo = config.demo ? await seedDemo(rt) : undefined;
  const server = serve(rt, createApp(rt));
  rt.outbox.start();
  rt.router.start();
  rt.wechaty.start();
  const email = await startEmailListeners(rt, { smtp: config.smtpIn, imap: config.imapImport }).catch(
    (err: unknown) => {
      // A taken SMTP port must not take the inbox down with it: say so, and run without SMTP-in.
      log.error("SMTP-in could not start", {
        port: config.smtpIn?.port,
        err: err instanceof Error ? err.message : String(err),
      });
      return startEmailListeners(rt, { imap: config.imapImport });
    },
  );
  const wechat = startWechatListeners(rt);
  const url = config.publicUrl ?? `http://localhost:${server.port}`;
  log.info("switchboard started", {
    url,
    database: rt.database.driver,
    dataDir: config.databaseUrl ? undefined : config.dataDir,
  });
  // Printed plainly (not only as a log line): the first thing a new user needs.
  console.log(`\nSwitchboard is running at ${url}`);
  console.log(`  Agent inbox in the browser:     ${url}/app/`);
  if (demo?.widgetKey) {
    console.log(`  Demo page with the chat widget: ${url}/demo`);
    console.log(`  Web chat inbox public key:      ${demo.widgetKey}`);
    console.log(`  Agent API sign-in:              admin@demo.test / demo  (POST ${url}/api/v1/auth/login)`);
    console.log(
      `  Demo phone line (simulated):    +15005550006 — try: bun run call:simulate --say 我想退款 --answer-as lina@demo.test`,
    );
  }
  if (email.smtpPort !== undefined)
    console.log(`  SMTP-in (mail to support@demo.test in the demo): ${config.smtpIn!.host}:${email.smtpPort}`);
  if (demo?.helpSlug) console.log(`  Help center:                    ${url}/help/${demo.helpSlug}`);
  const stop = async () => {
    server.stop();
    await email.stop();
    await wechat.stop();
    await rt.close();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

await main();
