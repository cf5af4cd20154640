from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from characters.selectors import ecosystem_list


@login_required
def ecosystem_list_page(request: HttpRequest) -> HttpResponse:
    ecosystems = ecosystem_list(user=request.user).order_by("-created")  # type: ignore[arg-type]
    return render(request, "observatory/ecosystem_list.html", {"ecosystems": ecosystems})
