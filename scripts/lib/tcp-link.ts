/** Links that can be taken down and brought back, standing for a township's uplink in tests and benchmarks. */
import { createConnection, createServer, type Server, type Socket } from "node:net";

/** A server on a fixed 127.0.0.1 port that can stop (refusing connections, cutting open ones) and start again. */
export class SwitchableServer {
  private server: Server | null = null;
  private sockets = new Set<Socket>();
  constructor(
    readonly port: number,
    private readonly make: () => Server,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts accepting connections (the link is up). */
  async up(): Promise<void> {
    if (this.server) return;
    const server = this.make();
    server.on("connection", (s: Socket) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(this.port, "127.0.0.1", r));
    this.server = server;
  }

  /** Cuts every connection and refuses new ones (the link is down). */
  async down(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

/** A plain TCP forwarder to a local port. */
export class TcpLink extends SwitchableServer {
  constructor(port: number, targetPort: number) {
    super(port, () =>
      createServer((client) => {
        const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
        for (const s of [client, upstream]) {
          s.on("error", () => {
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream).pipe(client);
      }),
    );
  }
}
