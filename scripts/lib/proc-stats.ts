/** What the Linux kernel says about a process: memory high-water mark, CPU time, descendants. */
import { readdirSync, readFileSync } from "node:fs";

/** A `Vm…` line of `/proc/<pid>/status` in MB (NaN once the process is gone). */
function statusMb(pid: number, field: "VmHWM" | "VmRSS"): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** The kernel's peak resident set size of the process since it started, in MB: no sampling gap can miss a spike. */
export const vmHwmMb = (pid: number): number => statusMb(pid, "VmHWM");

/** The resident set size now, in MB. */
export const vmRssMb = (pid: number): number => statusMb(pid, "VmRSS");

/** CPU seconds (user + system, all threads) a process has used so far. */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** The pids of `ancestor`'s descendants whose command is `comm` (e.g. the city's workerd). */
export function descendants(comm: string, ancestor = process.pid): number[] {
  const parent = new Map<number, number>();
  const names = new Map<number, string>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      names.set(Number(d), stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")));
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      /* gone */
    }
  }
  const mine = (pid: number): boolean => {
    for (let p = parent.get(pid); p; p = parent.get(p)) if (p === ancestor) return true;
    return false;
  };
  return [...names].filter(([pid, name]) => name === comm && mine(pid)).map(([pid]) => pid);
}

/**
 * CPU seconds the whole machine has spent busy (all cores, every process and the kernel) and
 * stolen by the hypervisor, so far. What a benchmark's own processes did not use of it is
 * interference by others.
 */
export function machineCpu(): { busy: number; steal: number } {
  const [, ...f] = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = f.map(Number) as number[];
  return { busy: (user! + nice! + system! + irq! + softirq!) / 100, steal: steal! / 100 };
}
