"""The tus routes as the OpenAPI document describes them."""

from __future__ import annotations

from typing import Any

from .protocol import DEFAULT_PREFIX


def tus_operations(prefix: str = DEFAULT_PREFIX) -> list[dict[str, Any]]:
    """The tus routes for the OpenAPI document: method, path, summary, responses."""
    prefix = prefix.rstrip("/")
    item = f"{prefix}/{{upload_id}}"
    common = {
        "401": "Not authenticated.",
        "412": "Tus-Resumable missing or not 1.0.0 (Tus-Version lists what is supported).",
    }
    found = {"404": "No such upload (or not yours).", "410": "The upload expired."}
    return [
        {
            "method": "OPTIONS",
            "path": f"{prefix}/",
            "summary": "tus capabilities: Tus-Version, Tus-Extension, Tus-Max-Size, "
            "Tus-Checksum-Algorithm.",
            "responses": {"204": "Capabilities in the headers."},
        },
        {
            "method": "POST",
            "path": f"{prefix}/",
            "summary": "Create an upload (Upload-Length, Upload-Metadata); a body of type "
            "application/offset+octet-stream uploads the first bytes.",
            "responses": {
                "201": "Created; Location, Upload-Offset, Upload-Expires.",
                "400": "Malformed Upload-Length, Upload-Metadata or Upload-Checksum.",
                **common,
                "413": "Upload-Length exceeds Tus-Max-Size.",
                "415": "A body that is not application/offset+octet-stream.",
                "460": "The first chunk failed its checksum and was discarded.",
                "507": "The server's disk is full; nothing was kept of this request.",
            },
        },
        {
            "method": "OPTIONS",
            "path": item,
            "summary": "tus capabilities (same as on the collection).",
            "responses": {"204": "Capabilities in the headers."},
        },
        {
            "method": "HEAD",
            "path": item,
            "summary": "Upload-Offset, Upload-Length and Upload-Metadata of an upload; "
            "Lessoncam-Upload-Result once it is complete.",
            "responses": {"200": "The upload's state in the headers.", **common, **found},
        },
        {
            "method": "PATCH",
            "path": item,
            "summary": "Append the body (application/offset+octet-stream) at Upload-Offset; "
            "optional Upload-Checksum. The last PATCH answers after the server accepted "
            "the whole file, with Lessoncam-Upload-Result.",
            "responses": {
                "204": "Stored; the new Upload-Offset.",
                "400": "Malformed Upload-Offset or Upload-Checksum, or the body broke off.",
                **common,
                **found,
                "408": "The body stalled; the bytes that arrived are kept.",
                "409": "Upload-Offset does not match the upload's offset.",
                "413": "The body would write past Upload-Length.",
                "415": "Content-Type is not application/offset+octet-stream.",
                "423": "Another request is writing to this upload.",
                "460": "Checksum mismatch; the chunk was discarded.",
                "507": "The server's disk is full; the chunk was discarded, retry later.",
            },
        },
        {
            "method": "DELETE",
            "path": item,
            "summary": "Terminate an upload and delete its bytes.",
            "responses": {"204": "Deleted.", **common, **found, "423": "Upload is busy."},
        },
        {
            "method": "POST",
            "path": item,
            "summary": "X-HTTP-Method-Override: PATCH, DELETE or HEAD, for limited clients.",
            "responses": {"405": "No or an unknown X-HTTP-Method-Override."},
        },
    ]


TUS_OPERATIONS: list[dict[str, Any]] = tus_operations()
