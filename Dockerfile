# The gateway image used by docker-compose.yml.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY adapters ./adapters
COPY schemas ./schemas
RUN pip install --no-cache-dir . && useradd --system kpgw
USER kpgw
EXPOSE 8080
ENTRYPOINT []
CMD ["kpgw", "run"]
