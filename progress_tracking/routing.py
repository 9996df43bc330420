"""One view per operation, even where two operations share a URL.

Django routes by path alone, so the seed's ``GET {session_id}`` (the retired stream) and
``DELETE {session_id}`` (clearing) would otherwise share one view. A ``MethodRouter`` names
the view of each method in ``routes`` and hands every request, untouched, to that view: its
own authentication, permissions, CSRF check and answer. drf-spectacular documents each method
from the view that serves it (``schema``). A method no view serves goes through the router's
own ``APIView`` machinery: ``OPTIONS``, or ``405`` naming the methods that are served.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django.http import HttpRequest, HttpResponseBase
from rest_framework.views import APIView


class MethodRouter(APIView):
    # HTTP method -> the view that serves it; HEAD goes to the GET view unless named.
    routes: ClassVar[Mapping[str, type[APIView]]] = {}

    @classmethod
    def route(cls, method: str) -> type[APIView] | None:
        if method == "HEAD" and "HEAD" not in cls.routes:
            method = "GET"
        return cls.routes.get(method)

    @property
    def allowed_methods(self) -> list[str]:
        """The URL's methods: those its views serve, and OPTIONS."""
        return [
            name.upper()
            for name in self.http_method_names
            if name == "options" or self.route(name.upper()) is not None
        ]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        view = self.route(request.method or "")
        if view is None:
            return super().dispatch(request, *args, **kwargs)
        # Not a polling path: building the view's entry point per request costs nothing here.
        response = view.as_view()(request, *args, **kwargs)
        if response.has_header("Allow"):
            # The answering view lists its own methods; the URL has the others too.
            response["Allow"] = ", ".join(self.allowed_methods)
        return response
