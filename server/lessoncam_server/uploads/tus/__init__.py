"""tus 1.0.0 resumable uploads for aiohttp (https://tus.io/protocols/resumable-upload).

Extensions: creation, creation-with-upload, checksum (sha1, sha256, md5), termination and
expiration. Bytes go to an ``UploadStore``; the rest of the server takes part through
``TusHooks``: ``on_create`` may refuse an upload, ``on_complete`` takes the finished file.

Wire it up with ``setup_tus(app, store, hooks, max_size=..., stall_timeout_s=...)``. Callers must
be authenticated (``principal_of``); an upload is visible only to the principal that created it.

- ``protocol``: the protocol's constants and header parsing (pure);
- ``hooks``: what the rest of the server implements to take part;
- ``owners``: an upload's owner as stored with it, to finish it after a restart;
- ``endpoint``: the HTTP handlers (``TusEndpoint``, ``setup_tus``);
- ``maintenance``: recovery at start-up and periodic sweeps;
- ``openapi``: the routes as the OpenAPI document describes them.
"""
