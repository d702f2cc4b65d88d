# Beijing 12345 hotline intake gateway.
#   docker build -t hotline-gateway .
#   docker run --rm -p 127.0.0.1:8080:8080 -e REDIS_URL=redis://host:6379/0 hotline-gateway
# (or `docker compose up -d --build`, which also starts Redis)
#
# Speech model: the build downloads vosk-model-small-cn-0.22 (`hotline models fetch`, sha256
# checked; the build fails on a mismatch) into /opt/models. A build host without internet:
#   docker build --build-arg VOSK_MODEL=none -t hotline-gateway .
# and mount an unpacked model instead (the gateway runs with live transcription off without one):
#   docker run ... -v /srv/models/vosk-model-small-cn-0.22:/opt/models/vosk-model-small-cn-0.22:ro hotline-gateway
# (its static graph: `hotline models graph` on the host, mounted on /opt/graphs).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system hotline \
 && useradd --system --gid hotline --home-dir /app --shell /usr/sbin/nologin hotline \
 && mkdir -p /data \
 && chown hotline:hotline /data

# OpenFst's tools compose the model's static decoding graph below (speech/graph.py).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libfst-tools \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY . /app
RUN pip install . \
 && rm -rf /app/build /app/*.egg-info

ARG VOSK_MODEL=vosk-model-small-cn-0.22
ENV HOTLINE_SPEECH_GRAPH_DIR=/opt/graphs
# The static graph (about a minute and 1 GB of memory at build time) lets every call decode
# with about a quarter of the CPU and 2 MB instead of about 150 MB of memory.
RUN if [ "$VOSK_MODEL" != "none" ]; then hotline models fetch --name "$VOSK_MODEL" --dest /opt/models \
      && hotline models graph --model "/opt/models/$VOSK_MODEL"; \
    else mkdir -p /opt/models /opt/graphs; fi

ENV HOTLINE_HOST=0.0.0.0 \
    HOTLINE_PORT=8080 \
    HOTLINE_DATA_DIR=/data \
    HOTLINE_VOSK_MODEL=/opt/models/vosk-model-small-cn-0.22

USER hotline
VOLUME ["/data"]
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

CMD ["hotline", "run"]
