# The tessera image: one image, every command (worker, coordinator, planner serve, merge, ...),
# run as a non-root user. Build: docker build -t tessera:0.1.0 .
# Stage 1 installs and builds (TypeScript, the WebAssembly kernels), then drops dev dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY . .
# onnxruntime-node's CPU binaries ship in its package; its install script would fetch CUDA ones
RUN ONNXRUNTIME_NODE_INSTALL=skip npm ci \
 && npm prune --omit=dev \
 && rm -rf test

# Stage 2: the runtime, with what was built and the production dependencies only.
FROM node:20-bookworm-slim
RUN groupadd --gid 10001 tessera && useradd --uid 10001 --gid tessera --no-create-home --shell /usr/sbin/nologin tessera
WORKDIR /opt/tessera
COPY --from=build --chown=root:root /src /opt/tessera
ENV NODE_ENV=production
USER 10001:10001
ENTRYPOINT ["node", "/opt/tessera/packages/cli/bin/tessera.js"]
CMD ["--help"]
