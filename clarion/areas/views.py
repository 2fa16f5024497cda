from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from .selectors import areas_visible_to


@login_required
def area_list(request):
    return render(request, "areas/area_list.html", {"areas": areas_visible_to(request.user)})
