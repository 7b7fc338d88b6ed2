"""Seed 000's OrderListView and MeView, behind latch's gateway."""
import hashlib

from django.conf import settings
from django.core.cache import cache
from rest_framework.response import Response
from rest_framework.views import APIView


def get_orders_from_db(user):
    return [
        {"id": 1, "product": "노트북", "user": user.username},
        {"id": 2, "product": "마우스", "user": user.username},
    ]


def orders_cache_key(request):
    """The per-user cache key: (user, session, access-token generation).

    The session is X-Latch-Session-Id, as the issue asks. latch sends no
    generation header, so the generation is a hash of the access token
    (the cache keeps no bearer secret), as latch's own per-session cache is
    keyed by session and the access token's jti. Why not the session
    alone: SPEC 5.4 says that after a refresh the old entry is gone, and a
    refresh keeps the session id. With the generation in the key, the new
    access token starts a fresh entry and the old one is unreachable, as
    seed 000 keyed the cache by the token. Logout needs no code here: latch
    refuses a revoked session's tokens before they reach this view, and an
    unreachable entry expires after ORDERS_CACHE_SECONDS."""
    user = request.user
    token = request.META.get("HTTP_AUTHORIZATION", "")
    digest = hashlib.sha256(token.encode()).hexdigest()[:32] if token else "-"
    return "orders:%d:%s:%s" % (user.id, user.session_id, digest)


class OrderListView(APIView):
    def get(self, request):
        key = orders_cache_key(request)
        data = cache.get(key)
        if data is not None:
            return Response({"cached": True, "data": data})
        data = get_orders_from_db(request.user)
        cache.set(key, data, timeout=settings.ORDERS_CACHE_SECONDS)
        return Response({"cached": False, "data": data})


class MeView(APIView):
    def get(self, request):
        u = request.user
        return Response({"id": u.id, "username": u.username, "role": u.role, "email": u.email, "session_id": u.session_id})
