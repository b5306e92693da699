# Image for compose's demo services: natstrace and its console script, nothing else.
FROM python:3.12-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . && useradd --system natstrace
USER natstrace
# Metrics: one port per demo service, orders on 9464 to orchestrator on 9468.
EXPOSE 9464-9468
CMD ["natstrace", "demo", "--nats-url=nats://nats:4222", "--orders=0"]
