from django.conf import settings


def clarion(request):
    return {"ORGANISATION_NAME": settings.ORGANISATION_NAME, "DEMO": settings.DEMO}
