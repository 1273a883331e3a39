import http from "node:http";
import type { AddressInfo } from "node:net";
import type Koa from "koa";

/**
 * The HTTP server of the API: started on HOST:PORT (PORT 0 picks a free port, as tests do) and
 * closed gracefully — no new connections, idle keep-alive connections closed at once, requests in
 * flight given `drainMs` to finish before their connections are cut.
 */
export interface ApiServer {
  server: http.Server;
  url: string;
  close(drainMs?: number): Promise<void>;
}

export async function listen(app: Koa<never>, host: string, port: number): Promise<ApiServer> {
  const server = http.createServer(app.callback());
  // Behind a load balancer with its own idle timeout, ours must be longer to avoid racing resets.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    server,
    url: `http://${shownHost}:${address.port}`,
    close(drainMs = 10_000) {
      closing ??= new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), drainMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
