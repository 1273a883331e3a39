# syntax=docker/dockerfile:1
#
# One image for every Proxima role: SERVICES chooses what a container hosts (api; a controller:
# runs,users,tickets,…; workers). Build:   docker build -t proxima:0.1.0 .
# Run alone (embedded PostgreSQL under /data, everything in one process):
#   docker run --rm -p 3000:3000 -e JWT_SECRET="$(openssl rand -hex 32)" proxima:0.1.0
# The GPU variant is Dockerfile.gpu. The Helm chart (helm/proxima) runs this image with a read-only
# root filesystem: the process writes only under PROXIMA_DATA_DIR (/data) and /tmp.

ARG NODE_IMAGE=node:24-slim

# ---- build: every dependency (compiler, bundler), the compiled server and the dashboard ----------
FROM ${NODE_IMAGE} AS build
# node-gyp's toolchain, for native modules (isolated-vm) on platforms without a prebuilt binary.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# `npm ci` runs only the install scripts approved in package.json's `allowScripts` (native builds,
# the embedded PostgreSQL binaries, the `node` package).
RUN npm ci --no-audit --no-fund
COPY . .
# TypeScript → dist/ (tsconfig.build.json; migrations included), then the dashboard → web/dist.
RUN npm run build \
  && npm run build:web
# Production dependencies only. The `node` package (Node 24 for checkouts on an older system Node) is
# dropped too: the base image is Node 24 already.
RUN npm prune --omit=dev --no-audit --no-fund \
  && rm -rf node_modules/node node_modules/node-linux-* node_modules/.cache

# ---- runtime ---------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    HEALTH_PORT=9090 \
    PROXIMA_DATA_DIR=/data
WORKDIR /app
# The `node` user (uid 1000) of the base image; nothing under /app is writable by it.
COPY --from=build --chown=root:root /app/package.json ./package.json
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --from=build --chown=root:root /app/web/dist ./web/dist
COPY --chown=root:root --chmod=0755 scripts/docker/proxima /usr/local/bin/proxima
RUN mkdir -p /data && chown node:node /data
USER 1000:1000
VOLUME ["/data"]
# 3000: the API (SERVICES with api); 9090: /healthz, /readyz and /metrics of every role (in production the API serves /metrics only here).
EXPOSE 3000 9090
# Liveness of whichever port this role serves; Kubernetes ignores HEALTHCHECK and uses the chart's probes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "const s=(process.env.SERVICES||'all').split(',');const p=s.includes('api')||s.includes('all')?process.env.PORT:process.env.HEALTH_PORT;fetch('http://127.0.0.1:'+p+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM drains (main.ts): node is PID 1 here and handles it itself.
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
