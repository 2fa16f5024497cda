"""URLs of the members' local pages (added to members/urls.py)."""

urlpatterns: list = []
