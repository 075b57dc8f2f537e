# voice-agent: a multi-stage image. The final stage has production dependencies only, runs as the
# unprivileged `node` user, keeps its data in the /data volume, and lets SIGTERM reach node through
# tini, so `docker stop` drains calls (give it longer than VOICE_AGENT_DRAIN_TIMEOUT).

# --- build: compile TypeScript with the dev dependencies
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY agents ./agents
RUN npx tsc -p tsconfig.build.json

# --- production dependencies (better-sqlite3 is native: built here, with the compilers)
FROM node:20-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm rebuild better-sqlite3

# --- the image
FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/* \
  && mkdir -p /data && chown node:node /data
WORKDIR /app
ENV NODE_ENV=production \
    VOICE_AGENT_DATA_DIR=/data \
    VOICE_AGENT_HOST=0.0.0.0 \
    VOICE_AGENT_PORT=8080 \
    VOICE_AGENT_JSON_LOGS=true \
    MOVING_DB=/data/moving.sqlite
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY agents ./agents
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.VOICE_AGENT_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
STOPSIGNAL SIGTERM
# serve reads everything from VOICE_AGENT_* variables: the agent file is VOICE_AGENT_FILE
ENTRYPOINT ["tini", "--", "node", "bin/voice-agent.js", "serve"]
