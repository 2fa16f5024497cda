"""URLs of the members' passkeys pages (added to members/urls.py)."""

urlpatterns: list = []
