"""The demo's pages (knowledge bases, the KnowledgeBase page) and the upload endpoint."""

from __future__ import annotations

import logging
import os
from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.generic import DetailView, ListView
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from progress_tracking import services
from progress_tracking.capability import HEADER as CAPABILITY_HEADER
from progress_tracking.capability import read_capability_for
from progress_tracking.exceptions import InvalidProgressData
from progress_tracking.models import FileStatus, Knowledge

from .forms import KnowledgeForm
from .models import Document
from .recovery import recover_abandoned
from .tasks import enqueue_documents
from .upload_handler import LimitedUploadHandler
from .uploads import ACCEPT_ATTRIBUTE, UploadRejected, limits, unique_names, validate_uploads

logger = logging.getLogger(__name__)


class KnowledgeListView(LoginRequiredMixin, ListView):
    template_name = "knowledge/list.html"
    context_object_name = "knowledge_bases"

    def get_queryset(self) -> Any:
        return Knowledge.objects.filter(user=self.request.user).order_by("-created_at")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(form=KnowledgeForm(), **kwargs)

    def post(self, request: HttpRequest) -> HttpResponse:
        form = KnowledgeForm(request.POST)
        if not form.is_valid():
            self.object_list = self.get_queryset()
            return self.render_to_response(self.get_context_data(form=form), status=400)
        knowledge = form.save(commit=False)
        knowledge.user = request.user
        knowledge.save()
        return redirect("knowledge:detail", pk=knowledge.pk)


class KnowledgeDetailView(LoginRequiredMixin, DetailView):
    """The KnowledgeBase page: documents, upload form, live progress of the running batch."""

    template_name = "knowledge/detail.html"
    context_object_name = "knowledge"

    def get_queryset(self) -> Any:
        return Knowledge.objects.filter(user=self.request.user)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        knowledge = self.object
        # Documents whose batch stopped being reported (a worker died) end as interrupted.
        recover_abandoned(knowledge=knowledge)
        progress = services.get_progress(knowledge.progress_session_id or "")
        max_bytes, max_files = limits()
        return super().get_context_data(
            documents=knowledge.documents.all(),
            session_id=progress["session_id"] if progress else "",
            progress=progress,
            accept=ACCEPT_ATTRIBUTE,
            max_upload_mib=max_bytes // 1_048_576,
            max_files=max_files,
            **kwargs,
        )


_DETAIL = inline_serializer("UploadError", {"detail": serializers.CharField()})


@extend_schema(
    request={
        "multipart/form-data": {
            "type": "object",
            "properties": {
                "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
            },
            "required": ["files"],
        }
    },
    responses={
        202: inline_serializer(
            "UploadAccepted",
            {
                "session_id": serializers.UUIDField(),
                "status_url": serializers.URLField(),
                "documents": inline_serializer(
                    "UploadedDocument",
                    {
                        "id": serializers.IntegerField(),
                        "name": serializers.CharField(),
                        "size": serializers.IntegerField(),
                    },
                    many=True,
                ),
            },
        ),
        400: OpenApiResponse(
            _DETAIL, description="No files, too many, a nameless file or an unusable name."
        ),
        404: OpenApiResponse(_DETAIL, description="Not your knowledge base."),
        413: OpenApiResponse(_DETAIL, description="A file is over the size limit."),
        415: OpenApiResponse(_DETAIL, description="A file type that cannot be processed."),
        503: OpenApiResponse(_DETAIL, description="The task queue is unavailable."),
    },
)
class UploadView(APIView):
    """``POST`` files into a knowledge base: 202 with the session to poll; work runs in a task.

    A batch already running on the knowledge base is joined (one session, one bar); a name
    already used in that session gets a " (2)" suffix.
    """

    parser_classes = [MultiPartParser, FormParser]
    permission_classes = [IsAuthenticated]

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Request:
        # Before anything reads the body (the CSRF check reads it during authentication).
        request.upload_handlers = [LimitedUploadHandler(request)]
        return super().initialize_request(request, *args, **kwargs)

    def handle_exception(self, exc: Exception) -> Response:
        # Django's own request limits (DATA_UPLOAD_MAX_NUMBER_FILES and the like) raise
        # SuspiciousOperation, which would become an HTML 400 page.
        if isinstance(exc, SuspiciousOperation):
            exc = UploadRejected(f"The upload was refused: {exc}")
        return super().handle_exception(exc)

    def post(self, request: Request, pk: int) -> Response | HttpResponse:
        knowledge = Knowledge.objects.filter(user=request.user, pk=pk).first()
        if knowledge is None:
            raise NotFound("Knowledge base not found.")
        uploads = request.FILES.getlist("files")
        validate_uploads(uploads)
        running = services.get_progress(knowledge.progress_session_id or "") or {}
        active = running.get("status") == "processing"
        taken = [f["name"] for f in running.get("files", [])] if active else []
        names = unique_names([os.path.basename(u.name or "") for u in uploads], taken)
        backlog = Document.objects.filter(
            knowledge__user=request.user, status=FileStatus.PENDING
        ).count()
        documents: list[Document] = []
        try:
            with transaction.atomic():
                for upload, name in zip(uploads, names, strict=True):
                    documents.append(
                        Document.objects.create(
                            knowledge=knowledge, file=upload, name=name, size=upload.size
                        )
                    )
            session_id = services.start_session(
                knowledge, files=names, message="Queued", join_active=True
            )
        except InvalidProgressData as exc:
            discard(documents)
            raise UploadRejected(f"The upload was refused: {exc}") from exc
        except BaseException:
            discard(documents)
            raise
        Document.objects.filter(pk__in=[d.pk for d in documents]).update(session_id=session_id)
        try:
            enqueue_documents(session_id, documents, backlog)
        except Exception as exc:
            logger.exception("Could not queue the work of session %s", session_id)
            services.mark_session_error(session_id, "Could not queue the work.")
            Document.objects.filter(pk__in=[d.pk for d in documents]).update(
                status=FileStatus.ERROR, error=f"The task queue was unavailable: {exc}"
            )
            return Response(
                {"detail": "The task queue is unavailable; try again shortly."},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        status_url = reverse("progress_tracking:status", args=[session_id])
        if "text/html" in request.headers.get("Accept", ""):  # a plain form post, no script
            return redirect("knowledge:detail", pk=knowledge.pk)
        response = Response(
            {
                "session_id": session_id,
                "status_url": request.build_absolute_uri(status_url),
                "documents": [{"id": d.pk, "name": d.name, "size": d.size} for d in documents],
            },
            status=status.HTTP_202_ACCEPTED,
        )
        response["Location"] = request.build_absolute_uri(status_url)
        # Lets the page's poller take the fast path from its first poll.
        token = read_capability_for(request.user, session_id)
        if token:
            response[CAPABILITY_HEADER] = token
        return response


def discard(documents: list[Document]) -> None:
    """Remove documents saved for an upload that was then refused, with their files."""
    for document in documents:
        document.file.delete(save=False)
        Document.objects.filter(pk=document.pk).delete()
