# syntax=docker/dockerfile:1
#
# Tessera container image.
#
#   docker build -t tessera .
#   docker run --rm -p 3000:3000 \
#     -v "$PWD/secrets/jwt-private.pem:/run/secrets/jwt_private_key:ro" \
#     -e JWT_PRIVATE_KEY_FILE=/run/secrets/jwt_private_key \
#     -e DATABASE_URL=postgres://... -e REDIS_URL=redis://... tessera
#
# Stages: base -> deps (all deps) -> build (dist/) ; base -> prod-deps (runtime deps only) ;
# runtime = Node 22 LTS slim + prod node_modules + dist/ + drizzle/ + mail-templates/ + package.json, as user `node`.

ARG NODE_IMAGE=node:22-bookworm-slim

# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS base
WORKDIR /app
# No npm update nags, funding messages, audit calls or install-time telemetry (swagger-ui's @scarf/scarf).
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false \
    SCARF_ANALYTICS=false

# ---------------------------------------------------------------------------
# Every dependency (dev included): the Nest CLI and TypeScript are needed to build.
FROM base AS deps
COPY package.json package-lock.json ./
# npm workspaces: `npm ci` needs every workspace's package.json (the verifier package, the example service).
COPY packages/verifier/package.json packages/verifier/
COPY examples/downstream/package.json examples/downstream/
# `npm ci`: exactly the committed package-lock.json (it lists every platform's optional binaries).
RUN --mount=type=cache,target=/root/.npm \
    npm ci

# ---------------------------------------------------------------------------
FROM deps AS build
COPY . .
RUN npm run build \
 && test -f dist/main.js

# ---------------------------------------------------------------------------
# Production dependencies only, installed on their own so no dev package leaks into the image.
# The only production package with an install script is @scarf/scarf (telemetry), so scripts are skipped.
FROM base AS prod-deps
COPY package.json package-lock.json ./
COPY packages/verifier/package.json packages/verifier/
COPY examples/downstream/package.json examples/downstream/
# --workspaces=false: the server needs neither the verifier package nor the example service.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --workspaces=false

# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=3000 \
    DATA_DIR=/app/data
WORKDIR /app

# Code and dependencies stay owned by root (read-only for the app); only DATA_DIR is writable,
# for the embedded PGlite database when DATABASE_URL is unset.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /app/dist ./dist
COPY drizzle ./drizzle
# The mail templates (MAIL_TEMPLATES_DIR defaults to this folder; mount a team's own copy elsewhere and point it there).
COPY mail-templates ./mail-templates
# The demo page (off in production unless DEMO_PAGE=true): its static files and the compiled client.
COPY client/public ./client/public
COPY --from=build /app/client/dist ./client/dist
RUN mkdir -p /app/data && chown node:node /app/data

USER node
EXPOSE 3000

# Liveness only (never depends on Redis or the database). Slim images have no curl: use node's fetch.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/live',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# Nest's shutdown hooks handle SIGTERM, so `docker stop` closes connections cleanly.
CMD ["node", "dist/main.js"]
