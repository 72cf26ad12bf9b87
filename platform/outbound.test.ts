import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { checkOutboundUrl, fetchOutbound, isPublicAddress, OutboundRefused } from "./outbound.ts";

describe("outbound address policy", () => {
  it("refuses loopback, private, link-local, metadata and unspecified addresses, v4 and v6", () => {
    const refused = [
      "127.0.0.1",
      "127.1.2.3",
      "0.0.0.0",
      "10.1.2.3",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.1.1",
      "169.254.169.254",
      "100.100.100.200",
      "224.0.0.1",
      "255.255.255.255",
      "::",
      "::1",
      "fe80::1",
      "fe80::1%eth0",
      "fd00:ec2::254",
      "fc00::1",
      "ff02::1",
      "::ffff:127.0.0.1",
      "::ffff:7f00:1",
      "::ffff:169.254.169.254",
      "::ffff:10.0.0.1",
      "::127.0.0.1",
      "64:ff9b::a9fe:a9fe",
      "2002:7f00:1::",
      "not-an-ip",
    ];
    for (const ip of refused) expect([ip, isPublicAddress(ip)]).toEqual([ip, false]);
    for (const ip of [
      "93.184.216.34",
      "8.8.8.8",
      "172.32.0.1",
      "2606:4700:4700::1111",
      "::ffff:8.8.8.8",
      "2002:808:808::",
    ])
      expect([ip, isPublicAddress(ip)]).toEqual([ip, true]);
  });

  const resolve = async (host: string) =>
    ({
      "metadata.example": ["169.254.169.254"],
      "mixed.example": ["93.184.216.34", "10.0.0.1"],
      "public.example": ["93.184.216.34"],
    })[host] ?? [];

  it("resolves names and refuses when any address is private; allows listed hosts and addresses", async () => {
    const policy = { allowHosts: [], resolve };
    await expect(checkOutboundUrl(new URL("http://metadata.example/latest"), policy)).rejects.toBeInstanceOf(
      OutboundRefused,
    );
    await expect(checkOutboundUrl(new URL("http://mixed.example/"), policy)).rejects.toBeInstanceOf(OutboundRefused);
    await expect(checkOutboundUrl(new URL("http://[::1]:8080/"), policy)).rejects.toBeInstanceOf(OutboundRefused);
    await expect(checkOutboundUrl(new URL("http://nowhere.example/"), policy)).rejects.toBeInstanceOf(OutboundRefused);
    await expect(checkOutboundUrl(new URL("file:///etc/passwd"), policy)).rejects.toBeInstanceOf(OutboundRefused);
    await checkOutboundUrl(new URL("https://public.example/x"), policy);
    await checkOutboundUrl(new URL("http://metadata.example/"), { allowHosts: ["metadata.example"], resolve });
    await checkOutboundUrl(new URL("http://mixed.example/"), { allowHosts: ["10.0.0.1"], resolve });
    await checkOutboundUrl(new URL("http://[::1]/"), { allowHosts: ["::1"], resolve });
  });

  describe("fetching", () => {
    let server: ReturnType<typeof Bun.serve>;
    let base: string;
    beforeAll(() => {
      server = Bun.serve({
        port: 0,
        hostname: "127.0.0.1",
        fetch(req) {
          const path = new URL(req.url).pathname;
          if (path === "/to-other-loopback") return Response.redirect(`http://127.0.0.2:${server.port}/data`, 302);
          if (path === "/to-self") return Response.redirect(`/data`, 302);
          return Response.json({ ok: true });
        },
      });
      base = `http://127.0.0.1:${server.port}`;
    });
    afterAll(() => server.stop(true));

    it("refuses loopback unless allowed, and checks every redirect", async () => {
      await expect(fetchOutbound(`${base}/data`, {}, { allowHosts: [] })).rejects.toBeInstanceOf(OutboundRefused);
      expect(await (await fetchOutbound(`${base}/data`, {}, { allowHosts: ["127.0.0.1"] })).json()).toEqual({
        ok: true,
      });
      expect(await (await fetchOutbound(`${base}/to-self`, {}, { allowHosts: ["127.0.0.1"] })).json()).toEqual({
        ok: true,
      });
      await expect(
        fetchOutbound(`${base}/to-other-loopback`, {}, { allowHosts: ["127.0.0.1"] }),
      ).rejects.toBeInstanceOf(OutboundRefused);
    });
  });
});
