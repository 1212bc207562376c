# The tessera image: the CLI with every service (worker, coordinator) and the kernels built.
FROM node:20-bookworm-slim
WORKDIR /opt/tessera
COPY . .
RUN ONNXRUNTIME_NODE_INSTALL=skip npm ci && npm prune --omit=dev
ENTRYPOINT ["node", "/opt/tessera/packages/cli/bin/tessera.js"]
