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
    """Seed 000 keyed the cache by (user, access token), so a refresh's new
    token starts afresh. latch names the session in X-Latch-Session-Id; the
    access token (hashed: the cache keeps no bearer secret) tells the
    tokens of one session apart. A logged-out session's entry is never
    served again: latch refuses its tokens before they reach this view,
    and the entry expires with the token."""
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
