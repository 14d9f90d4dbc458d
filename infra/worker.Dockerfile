# The Prefect process worker of infra/compose.yaml: segmint's pinned dependencies, code mounted at /app.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends make git libgomp1 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements/ requirements/
RUN pip install --no-cache-dir torch==2.13.0 \
    && pip install --no-cache-dir -c requirements/constraints.txt -r requirements/lock.txt \
    && pip install --no-cache-dir psycopg2-binary==2.9.13
COPY . .
RUN pip install --no-cache-dir --no-deps -e .
