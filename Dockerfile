# Airbyte's Python connector image layout: build in one stage, copy the installed packages into
# a clean base image, run as the non-root `airbyte` user. Keep BASE_IMAGE equal to
# metadata.yaml's connectorBuildOptions.baseImage (a test checks it).
ARG BASE_IMAGE=docker.io/airbyte/python-connector-base:4.1.0@sha256:1d1aa21d34e851df4e8a87b391c27724c06e2597608e7161f4d167be853bd7b6

FROM ${BASE_IMAGE} AS builder
WORKDIR /airbyte/integration_code
COPY pyproject.toml uv.lock README.md ./
COPY source_openai_chat ./source_openai_chat
# Runtime dependencies exactly as locked (hashes checked), no dev tools; then the package itself.
RUN pip install --no-cache-dir uv==0.13.8 \
    && uv export --frozen --no-dev --no-emit-project --output-file requirements.txt \
    && uv pip install --no-cache --compile-bytecode --prefix /install --require-hashes \
        --requirement requirements.txt \
    && uv pip install --no-cache --compile-bytecode --prefix /install --no-deps .

FROM ${BASE_IMAGE}
WORKDIR /airbyte/integration_code
COPY --from=builder /install /usr/local
ENV AIRBYTE_ENTRYPOINT="source-openai-chat"
# The base image creates the `airbyte` user that Airbyte's connector images run as.
# hadolint ignore=DL3066
USER airbyte
ENTRYPOINT ["source-openai-chat"]
