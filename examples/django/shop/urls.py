# Under /shop/: latch itself serves /api/me/, /api/token/… and every other
# route of its own, so in gateway mode those never reach Django.
from django.urls import path

from . import views

urlpatterns = [
    path("shop/orders/", views.OrderListView.as_view()),
    path("shop/me/", views.MeView.as_view()),
]
