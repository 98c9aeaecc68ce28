# Feedlens in a container: `docker build -t feedlens .` then
#   docker run --rm -p 8501:8501 -v feedlens-data:/data feedlens
# and open http://localhost:8501. See README.md, "Deploy".
#
# Checked without a Docker engine by bench/check_docker_recipe.py (lint, apt packages against the
# shared libraries the wheels load, the files COPY takes, the start command and the HEALTHCHECK), and
# built and started without a daemon (buildah, podman) by bench/build_image_daemonless.py.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Shared libraries the wheels load from the system (ldd on the installed .so files):
#   OpenCV cv2.abi3.so      libGL.so.1, libglib-2.0.so.0, libgthread-2.0.so.0, libX11.so.6, libxcb.so.1
#   MediaPipe libmediapipe  libEGL.so.1, libGLESv2.so.2
# libgl1 brings libglx0, libglvnd0, libx11-6 and libxcb1. Everything else the wheels bundle.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 libegl1 libgles2 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# The runtime dependencies only (no test tools), at the versions the tests passed with (constraints.txt).
# pyproject.toml alone is the project without its code: this layer is rebuilt only when the dependencies
# or their pins change, not on every code change. `--build-arg EXTRAS=batch` adds Dask for the image of
# `dask scheduler` / `dask worker` (README, "Running a batch for real"); empty by default: the app needs none.
ARG EXTRAS=""
COPY pyproject.toml constraints.txt ./
RUN pip install -c constraints.txt ".${EXTRAS:+[$EXTRAS]}" \
    && rm -rf build ./*.egg-info

# The app itself (see .dockerignore: no tests, benches, venv, artifacts or secrets), installed over the
# empty one (its dependencies are in place already; pip check proves it) for the `feedlens` command.
COPY . ./
RUN pip install --no-deps -c constraints.txt . \
    && pip check \
    && rm -rf build ./*.egg-info

# Everything the app writes goes to /data: the cache (thumbnails, catalogues, extracted uploads,
# features, face index, person names, downloaded MediaPipe models) and Keras' ImageNet weights.
# A hosted server must not let visitors open server folders. DASK_CONFIG: the Dask settings Feedlens's
# workers need (the app never imports Dask; a worker started from this image reads it).
ENV FEEDLENS_CACHE_DIR=/data/cache \
    KERAS_HOME=/data/keras \
    FEEDLENS_ALLOW_LOCAL_PATHS=0 \
    DASK_CONFIG=/app/core/batch/dask.yaml

RUN useradd --create-home --uid 10001 --user-group feedlens \
    && mkdir -p /data/cache /data/keras \
    && chown -R feedlens:feedlens /data
VOLUME ["/data"]
USER feedlens

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"]
CMD ["streamlit", "run", "streamlit_app.py", "--server.address=0.0.0.0", "--server.port=8501", "--server.headless=true", "--browser.gatherUsageStats=false"]
