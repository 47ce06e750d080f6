# The seedwatch image: Airflow 3.3 with this project installed, DAGs from dags/,
# Airflow glue from plugins/, configuration from config/ (mounted over by compose).
FROM apache/airflow:3.3.2-python3.11

USER airflow
WORKDIR /opt/seedwatch

# Dependencies first (cached while only the code changes), pinned by the lock file.
COPY --chown=airflow:0 pyproject.toml requirements.lock README.md ./
COPY --chown=airflow:0 seedwatch ./seedwatch
COPY --chown=airflow:0 extractors ./extractors
RUN pip install --no-cache-dir -c requirements.lock ".[celery]"

COPY --chown=airflow:0 config ./config
COPY --chown=airflow:0 seeds ./seeds
COPY --chown=airflow:0 docker ./docker
COPY --chown=airflow:0 dags /opt/airflow/dags
COPY --chown=airflow:0 plugins /opt/airflow/plugins

ENV SEEDWATCH_CONFIG_DIR=/opt/seedwatch/config \
    PYTHONUNBUFFERED=1
RUN mkdir -p /opt/seedwatch/var
WORKDIR /opt/airflow
