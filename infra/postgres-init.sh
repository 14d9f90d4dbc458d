#!/usr/bin/env bash
# Runs once, on the first start of the compose PostgreSQL: one database and owner per service.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v prefect_pw="$PREFECT_DB_PASSWORD" -v mlflow_pw="$MLFLOW_DB_PASSWORD" <<'SQL'
CREATE USER prefect WITH PASSWORD :'prefect_pw';
CREATE DATABASE prefect OWNER prefect;
CREATE USER mlflow WITH PASSWORD :'mlflow_pw';
CREATE DATABASE mlflow OWNER mlflow;
SQL
