"""Peer: Django with contrib.auth and database sessions, one module (settings, URLs, views, WSGI).

Served by gunicorn with one sync worker: `gunicorn django_app:application`. The database is the
SQLite file named by DJ_DB; run `python django_app.py migrate` once before serving. The argon2
hasher is set to the benchmark's cost (m=19456 KiB, t=2, p=1) instead of Django's own default.

Routes used by the bench: POST /signup and POST /login (JSON {username, password}; CSRF-exempt
like an API client would need), GET /me (session cookie).
"""

from __future__ import annotations

import json
import os
import sys

import django
from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-only-secret-not-used-for-anything-real",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
    ],
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ],
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("DJ_DB", "django.sqlite"),
            "OPTIONS": {"timeout": 30, "init_command": "PRAGMA journal_mode=WAL;"},
        }
    },
    SESSION_ENGINE="django.contrib.sessions.backends.db",
    SESSION_COOKIE_NAME="session",
    PASSWORD_HASHERS=[__name__ + ".BenchArgon2Hasher"],
    USE_TZ=True,
)


class BenchArgon2Hasher(Argon2PasswordHasher):
    time_cost = 2
    memory_cost = 19456
    parallelism = 1


django.setup()

from django.contrib.auth import authenticate, login  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import IntegrityError  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402


def _credentials(request: HttpRequest) -> tuple[str, str]:
    body = json.loads(request.body or b"{}")
    return str(body.get("username", "")), str(body.get("password", ""))


@csrf_exempt
def signup(request: HttpRequest) -> HttpResponse:
    username, password = _credentials(request)
    try:
        User.objects.create_user(username=username, password=password)
    except IntegrityError:
        return JsonResponse({"detail": "taken"}, status=409)
    return JsonResponse({"username": username}, status=201)


@csrf_exempt
def sign_in(request: HttpRequest) -> HttpResponse:
    username, password = _credentials(request)
    user = authenticate(request, username=username, password=password)
    if user is None:
        return JsonResponse({"detail": "wrong username or password"}, status=401)
    login(request, user)
    return JsonResponse({"username": user.get_username()}, status=201)


def me(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return JsonResponse({"detail": "not signed in"}, status=401)
    return JsonResponse({"username": request.user.get_username()})


urlpatterns = [path("signup", signup), path("login", sign_in), path("me", me)]
application = get_wsgi_application()

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
