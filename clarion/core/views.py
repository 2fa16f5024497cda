from __future__ import annotations

from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST


class _Login(LoginView):
    template_name = "core/login.html"
    redirect_authenticated_user = True


login_view = _Login.as_view()


@require_POST
def logout_view(request):
    logout(request)
    return redirect("core:login")


@login_required
def home(request):
    return redirect("people:list")


@login_required
def two_factor_verify(request):
    return render(request, "core/two_factor_verify.html", {})


@login_required
def two_factor_setup(request):
    return render(request, "core/two_factor_setup.html", {})


@login_required
def user_list(request):
    from .models import User

    return render(request, "core/user_list.html", {"users": User.objects.all()})


@login_required
def audit_log(request):
    from .models import AuditEntry

    return render(request, "core/audit_log.html", {"entries": AuditEntry.objects.all()[:100]})
