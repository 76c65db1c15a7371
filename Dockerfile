# The gateway image used by docker-compose.yml.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
COPY gateway ./gateway
COPY adapters ./adapters
COPY schemas ./schemas
RUN pip install --no-cache-dir -c requirements.lock . && useradd --system kpgw \
    && mkdir -p /var/lib/kpgw && chown kpgw /var/lib/kpgw
# The translator's crash journal: mount a volume here that outlives the container.
ENV KPGW_TRANSLATOR__CRASH_JOURNAL_DIR=/var/lib/kpgw
USER kpgw
EXPOSE 8080
ENTRYPOINT []
CMD ["kpgw", "run"]
