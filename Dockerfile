# The image that docker-compose.yml runs as `web` and `worker` (the Procfile's commands).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=hopla.settings.production
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# collectstatic needs settings but no real secret; the placeholder never reaches a running server.
RUN SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput
RUN useradd --create-home hopla && mkdir -p /app/media && chown hopla /app/media
USER hopla
EXPOSE 8000
