"""Static files under content-hashed names (``desk.3f2a9c1b7e44.css``), cached by browsers for a year.

The names are computed once when the app is built, from the files' bytes,
so a changed file gets a new name and no browser keeps an old copy.
Templates ask for a file by its plain name: ``{{ asset("desk.css") }}``.
"""

from __future__ import annotations

import hashlib
import mimetypes
from pathlib import Path

import flask
from flask import Flask
from werkzeug.exceptions import NotFound

__all__ = ["ENDPOINT", "STATIC", "Manifest", "register"]

STATIC = Path(__file__).resolve().parent.parent / "static"
ENDPOINT = "desk_assets.asset"
#: a year: the name changes with the content
MAX_AGE = 365 * 24 * 3600


class Manifest:
    """Plain name -> hashed name, and hashed name -> file, for the files under a folder."""

    def __init__(self, folder: Path) -> None:
        self.hashed: dict[str, str] = {}
        self.files: dict[str, Path] = {}
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            plain = path.relative_to(folder).as_posix()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            stem, dot, suffix = plain.rpartition(".")
            name = f"{stem}.{digest}.{suffix}" if dot else f"{plain}.{digest}"
            self.hashed[plain] = name
            self.files[name] = path

    def url_name(self, plain: str) -> str:
        """The hashed name of ``plain`` (a template asking for a missing file is a bug: KeyError names it)."""
        try:
            return self.hashed[plain]
        except KeyError:
            raise KeyError(f"no static file {plain!r} in {STATIC}") from None


def register(app: Flask) -> Manifest:
    """Serve the desk's static files at ``/static/<hashed name>`` and give templates ``asset(name)``."""
    manifest = Manifest(STATIC)
    blueprint = flask.Blueprint("desk_assets", __name__)

    @blueprint.route("/static/<path:name>")
    def asset(name: str) -> flask.Response:
        path = manifest.files.get(name)
        if path is None:
            raise NotFound()
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        response = flask.send_file(path, mimetype=kind, max_age=MAX_AGE, conditional=True)
        response.headers["Cache-Control"] = f"public, max-age={MAX_AGE}, immutable"
        return response

    app.register_blueprint(blueprint)
    app.jinja_env.globals["asset"] = lambda plain: flask.url_for(ENDPOINT, name=manifest.url_name(plain))
    return manifest
