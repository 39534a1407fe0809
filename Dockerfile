# The image that docker-compose.yml runs as `web` and `worker` (the Procfile's commands).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=hopla.settings.production
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# collectstatic loads the production settings, which refuse to start without a secret and the backing
# services' addresses; it uses none of them: a throwaway secret, and addresses it never connects to.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" ALLOWED_HOSTS=localhost \
    DATABASE_URL=postgres://collectstatic/unused REDIS_URL=redis://collectstatic/0 PUBLIC_BASE_URL=http://collectstatic \
    python manage.py collectstatic --noinput
RUN useradd --create-home hopla && mkdir -p /app/media && chown hopla /app/media
USER hopla
EXPOSE 8000
