"""Pages of the browser UI. Views stay thin: the data comes from the four APIs."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/home.html")
