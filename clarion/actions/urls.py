from django.urls import path

from . import index, views

app_name = "actions"
urlpatterns = [
    path("", index.page_index, name="index"),
    path("<slug:slug>/", views.page_view, name="page"),
    path("<slug:slug>/thanks/", views.thanks_view, name="thanks"),
    path("<slug:slug>/next/", views.next_view, name="next"),
    path("<slug:slug>/embed/", views.embed_view, name="embed"),
    path("<slug:slug>/confirm/<str:token>/", views.confirm_view, name="confirm"),
    path("<slug:slug>/count.json", views.count_view, name="count"),
    path("<slug:slug>/share.png", views.share_image_view, name="share_image"),
]
