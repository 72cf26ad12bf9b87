import { readFileSync } from "node:fs";

/** What another process (the server under test) has used so far, from Linux's /proc. */

/** CPU seconds used, user + system: /proc/<pid>/stat counts clock ticks of 10 ms. */
export function cpuSeconds(pid: number) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resident memory in MB. */
export function rssMb(pid: number) {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
}
