# One image for every Python service (gateway, Rasa server, action server, migrations).
# Multi-stage: dependencies, then the trained model, then a slim non-root runtime.
FROM python:3.10-slim AS deps
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.lock ./
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install "uv==0.13.8" \
 && /opt/venv/bin/uv pip sync --python /opt/venv/bin/python requirements.lock

# Build our spaCy pipeline and train the Rasa model at build time (it can also be mounted into the
# `models` volume instead).
FROM deps AS model
COPY . .
ENV PYTHONPATH=/app RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2
RUN /opt/venv/bin/python -m bot.nlu.spacy_pipeline build/spacy/en_safety \
 && /opt/venv/bin/rasa train --config config.yml --domain domain --data data \
      --out models --fixed-model-name current

FROM python:3.10-slim AS runtime
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home app
WORKDIR /app
COPY --from=deps /opt/venv /opt/venv
COPY --chown=app:app . .
COPY --from=model --chown=app:app /app/build/spacy build/spacy
COPY --from=model --chown=app:app /app/models models
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/app HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 XDG_CONFIG_HOME=/tmp \
    RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1 \
    SERVICE_MODE=production
USER app
CMD ["python", "-m", "bot.gateway"]
