/** The host names a node answers to (anything else is refused as DNS rebinding, see http/security.ts). */
import { hostname, networkInterfaces } from "node:os";
import { LOOPBACK_HOSTS, parseHost } from "../http/security.js";
import type { NodeConfig } from "./config.js";

/** What the machine calls itself; injectable for tests. */
export interface MachineNames {
  hostname: string;
  /** Every address of every interface. */
  addresses: string[];
}

/** This machine's host name and interface addresses. */
export function thisMachine(): MachineNames {
  const addresses = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
  return { hostname: hostname(), addresses };
}

/** `address` as a Host header names it: IPv6 in brackets, without a zone. */
const asHostName = (address: string) => (address.includes(":") ? `[${address.replace(/%.*$/, "")}]` : address).toLowerCase();

/**
 * The node's names: the loopback names, `--host`, the machine's host name, `--allowed-hosts` and,
 * when it listens on every interface, every interface address (a LAN PC types the hall's IP).
 */
export function nodeHostNames(config: Pick<NodeConfig, "host" | "allowedHosts">, machine: MachineNames = thisMachine()): string[] {
  const names = new Set<string>(LOOPBACK_HOSTS);
  const host = parseHost(config.host.includes(":") && !config.host.startsWith("[") ? `[${config.host}]` : config.host);
  if (host) names.add(host.name);
  if (machine.hostname) names.add(machine.hostname.toLowerCase());
  if (config.host === "0.0.0.0" || config.host === "::" || config.host === "[::]") {
    for (const a of machine.addresses) names.add(asHostName(a));
  }
  for (const n of config.allowedHosts) names.add(n);
  return [...names];
}
