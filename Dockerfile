# The seedwatch image: Airflow 3.3 with this project installed, DAGs from dags/,
# Airflow glue from plugins/, configuration from config/ and seeds/ (compose mounts the
# checkout's over them). The index templates and Kibana objects are in the installed
# package; see .dockerignore for what the build context leaves out (.env, .git, var/).
FROM apache/airflow:3.3.2-python3.11

USER airflow
WORKDIR /opt/seedwatch

# Dependencies first (cached while only the code changes), pinned by the lock file.
COPY --chown=airflow:0 pyproject.toml requirements.lock README.md ./
COPY --chown=airflow:0 seedwatch ./seedwatch
COPY --chown=airflow:0 extractors ./extractors
RUN pip install --no-cache-dir -c requirements.lock ".[celery]" \
 && rm -rf build seedwatch.egg-info

COPY --chown=airflow:0 config ./config
COPY --chown=airflow:0 seeds ./seeds
COPY --chown=airflow:0 docker ./docker
COPY --chown=airflow:0 dags /opt/airflow/dags
COPY --chown=airflow:0 plugins /opt/airflow/plugins

ENV SEEDWATCH_CONFIG_DIR=/opt/seedwatch/config \
    PYTHONUNBUFFERED=1
RUN mkdir -p /opt/seedwatch/var

# The image checks its own install: consistent dependencies, the installed package (not
# the sources beside it) imported from outside /opt/seedwatch, the plugin and the DAG
# file importable, and everything seedwatch-init installs rendered without a cluster.
WORKDIR /opt/airflow
RUN pip check \
 && python -c "import seedwatch, sys; sys.exit(0 if 'site-packages' in seedwatch.__file__ else seedwatch.__file__)" \
 && PYTHONPATH=/opt/airflow/plugins python -c "import seedwatch_airflow, seedwatch_airflow.smtp" \
 && PYTHONPATH=/opt/airflow/plugins python /opt/airflow/dags/seedwatch_monitor.py \
 && python /opt/seedwatch/docker/init_stack.py --dry-run
