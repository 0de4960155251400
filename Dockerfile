# One image definition for every Transmute service. Build from the repository root:
#   docker build --build-arg SERVICE=image -t transmute-image .
# SERVICE is `gateway` or the name of a package under services/. A service that needs
# Debian packages for its engines lists them in its package's system-packages.txt.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm
ARG NODE_IMAGE=node:22.12-bookworm-slim

# The web app the gateway serves at `/` (web/ -> dist/), from its lock file.
FROM ${NODE_IMAGE} AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

FROM ${PYTHON_IMAGE} AS build
ARG SERVICE
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/opt/venv
RUN test -n "$SERVICE" || (echo "--build-arg SERVICE=<name> is required" && exit 1)
RUN pip install --no-cache-dir uv==0.9.30
WORKDIR /src
COPY . .
# Only this service and the shared library, from the lock file, as wheels (no sources).
RUN uv sync --frozen --no-dev --no-editable --package transmute-${SERVICE}
COPY --from=web /web/dist /opt/web
# One entry point name in every image; the gateway's web app; the packages the
# engines need, if any.
RUN if [ "${SERVICE}" = gateway ]; then mv /opt/web /opt/venv/web; else rm -rf /opt/web; fi \
 && ln -s "transmute-${SERVICE}" /opt/venv/bin/transmute-service \
 && dir=services/${SERVICE}; if [ "${SERVICE}" = gateway ]; then dir=gateway; fi \
 && touch /opt/system-packages.txt \
 && if [ -f "$dir/system-packages.txt" ]; then \
      sed -e 's/#.*//' -e '/^ *$/d' "$dir/system-packages.txt" > /opt/system-packages.txt; fi

FROM ${PYTHON_IMAGE}
COPY --from=build /opt/system-packages.txt /opt/system-packages.txt
RUN if [ -s /opt/system-packages.txt ]; then \
      apt-get update \
      && xargs apt-get install --yes --no-install-recommends < /opt/system-packages.txt \
      && rm -rf /var/lib/apt/lists/*; fi \
 && groupadd --system --gid 10001 transmute \
 && useradd --system --uid 10001 --gid transmute --no-create-home --shell /usr/sbin/nologin transmute
COPY --from=build /opt/venv /opt/venv
# Root filesystem is read-only in the cluster: only /tmp (an emptyDir) is written.
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    TRANSMUTE_GRPC_HOST=0.0.0.0 TRANSMUTE_HTTP_HOST=0.0.0.0 TRANSMUTE_WORK_DIR=/tmp \
    TRANSMUTE_WEB_DIR=/opt/venv/web
USER 10001:10001
ENTRYPOINT ["transmute-service"]
