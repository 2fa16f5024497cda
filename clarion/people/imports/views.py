from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from clarion.people.models import ImportJob


@login_required
def import_list(request):
    return render(request, "people/import_list.html", {"jobs": ImportJob.objects.filter(created_by=request.user)})
