import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A free loopback TCP port (asked of the kernel, then released for the server to take). */
async function freePort() {
  return new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A real Dovecot IMAP server for tests (Debian's dovecot-imapd, which .ci/run installs): configured
 * from test/dovecot.conf in a temp folder, on a free loopback port, with passwd-file users.
 */
export async function startDovecot(users: { user: string; password: string }[]) {
  const dir = mkdtempSync(join(tmpdir(), "dovecot-"));
  // The auth and mail processes run as dovecot/nobody: they must reach the folder.
  chmodSync(dir, 0o755);
  const port = await freePort();
  for (const sub of ["run", "state", "mail"]) mkdirSync(join(dir, sub), { recursive: true });
  // Mail is owned by the static userdb uid/gid (nobody), as the config says.
  chownSync(join(dir, "mail"), 65534, 65534);
  const conf = readFileSync(join(import.meta.dir, "dovecot.conf"), "utf8")
    .replaceAll("@DIR@", dir)
    .replace("port = 1143", `port = ${port}`);
  writeFileSync(join(dir, "dovecot.conf"), conf);
  writeFileSync(join(dir, "users"), users.map((u) => `${u.user}:${u.password}`).join("\n") + "\n");
  const proc = Bun.spawn(["/usr/sbin/dovecot", "-F", "-c", join(dir, "dovecot.conf")], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    const up = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then(
      (s) => (s.end(), true),
      () => false,
    );
    if (up) break;
    if (proc.exitCode !== null || Date.now() > deadline) {
      const err = await new Response(proc.stderr).text();
      let log = "";
      try {
        log = readFileSync(join(dir, "dovecot.log"), "utf8");
      } catch {}
      throw new Error(`dovecot did not start: ${err} ${log}`);
    }
    await Bun.sleep(100);
  }
  return {
    port,
    dir,
    async stop() {
      proc.kill();
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
