from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from clarion.people.selectors import segments_for


@login_required
def segment_list(request):
    return render(request, "people/segment_list.html", {"segments": segments_for(request.user)})
