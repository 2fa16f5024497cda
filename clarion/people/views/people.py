from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from clarion.people.selectors import people_for


@login_required
def person_list(request):
    people = people_for(request.user).order_by("-id")[:50]
    return render(request, "people/person_list.html", {"people": people})
