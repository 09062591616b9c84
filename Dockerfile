# The application image for compose.yaml: web (gunicorn) and worker (Huey) run from it.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FLASK_APP=wsgi YINHUI_ENV=production BIND=0.0.0.0:8000

# The Chinese font that draws a proof of service as an image (PROOF_FONT; WenQuanYi Micro Hei is small).
RUN apt-get update && apt-get install -y --no-install-recommends fonts-wqy-microhei && rm -rf /var/lib/apt/lists/*

RUN useradd --system --home-dir /srv/yinhui --shell /usr/sbin/nologin yinhui
WORKDIR /srv/yinhui

# Dependencies first, so that a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir app && touch app/__init__.py && pip install . && pip uninstall -y yinhui && rm -rf app build *.egg-info

# The code runs from the source tree (templates and migrations live beside the app package).
COPY . .
RUN pip install --no-deps -e . && mkdir -p instance/exports && chown -R yinhui:yinhui instance

USER yinhui
EXPOSE 8000
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
