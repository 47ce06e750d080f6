#!/usr/bin/env bash
# Write .env from .env.example with freshly generated passwords and keys.
# Usage: docker/make-env.sh            (refuses to overwrite an existing .env)
# Elasticsearch and PostgreSQL keep the passwords of their first start: a new .env over
# old volumes is refused by both (HTTP 401, "password authentication failed").
# See docs/deployment.md, "Passwords and existing volumes".
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -e .env ]]; then
    echo ".env exists already; delete it first to regenerate" >&2
    exit 1
fi
secret() { python3 -c 'import secrets; print(secrets.token_urlsafe(24))'; }
fernet() { python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())'; }
sed -e "s|^ELASTIC_PASSWORD=.*|ELASTIC_PASSWORD=$(secret)|" \
    -e "s|^KIBANA_SYSTEM_PASSWORD=.*|KIBANA_SYSTEM_PASSWORD=$(secret)|" \
    -e "s|^KIBANA_ENCRYPTION_KEY=.*|KIBANA_ENCRYPTION_KEY=$(secret)$(secret)|" \
    -e "s|^KIBANA_SECURITY_KEY=.*|KIBANA_SECURITY_KEY=$(secret)$(secret)|" \
    -e "s|^KIBANA_REPORTING_KEY=.*|KIBANA_REPORTING_KEY=$(secret)$(secret)|" \
    -e "s|^POSTGRES_PASSWORD=.*|POSTGRES_PASSWORD=$(secret)|" \
    -e "s|^SEEDWATCH_DB_PASSWORD=.*|SEEDWATCH_DB_PASSWORD=$(secret)|" \
    -e "s|^AIRFLOW_ADMIN_PASSWORD=.*|AIRFLOW_ADMIN_PASSWORD=$(secret)|" \
    -e "s|^AIRFLOW_FERNET_KEY=.*|AIRFLOW_FERNET_KEY=$(fernet)|" \
    -e "s|^AIRFLOW_JWT_SECRET=.*|AIRFLOW_JWT_SECRET=$(secret)|" \
    -e "s|^AIRFLOW_API_SECRET_KEY=.*|AIRFLOW_API_SECRET_KEY=$(secret)|" \
    -e "s|^FLOWER_PASSWORD=.*|FLOWER_PASSWORD=$(secret)|" \
    -e "s|^MAILPIT_PASSWORD=.*|MAILPIT_PASSWORD=$(secret)|" \
    .env.example > .env
chmod 600 .env
echo "wrote .env; the Kibana/Elasticsearch login is 'elastic' with ELASTIC_PASSWORD, Airflow's is AIRFLOW_ADMIN_USER/AIRFLOW_ADMIN_PASSWORD"
if command -v docker >/dev/null 2>&1; then
    for volume in seedwatch_es-data seedwatch_postgres-data; do
        if docker volume inspect "$volume" >/dev/null 2>&1; then
            echo "warning: volume $volume exists and keeps its old passwords; see docs/deployment.md" >&2
        fi
    done
fi
