import net from "node:net";

/**
 * A TCP proxy in front of the API, to cut the browser's connections as a network drop (or an API
 * restart) would. While `hold()` is in force new connections are accepted but not forwarded: the
 * browser's requests wait, as behind a dead link, without errors of their own.
 */
export class DropProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private held: net.Socket[] | null = null;
  url = "";

  constructor(private readonly target: URL) {
    this.server = net.createServer((client) => {
      if (this.held) this.held.push(client);
      else this.forward(client);
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as net.AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
  }

  /** Cuts every open connection and holds new ones until `release()`. */
  drop(): void {
    this.held = [];
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const client of held) if (!client.destroyed) this.forward(client);
  }

  async close(): Promise<void> {
    this.release();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private forward(client: net.Socket): void {
    const upstream = net.connect(Number(this.target.port), this.target.hostname);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
