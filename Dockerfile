# Image for compose's demo services: natstrace and its console script, nothing else.
FROM python:3.12-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . && useradd --system natstrace
USER natstrace
EXPOSE 9464
CMD ["natstrace", "demo", "--nats-url=nats://nats:4222", "--messages=0"]
