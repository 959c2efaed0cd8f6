"""``/api/v1/docs``: the OpenAPI document as one readable HTML page (no JavaScript)."""

from __future__ import annotations

from typing import Any

import jinja2
from markupsafe import Markup, escape

__all__ = ["render_page"]

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ doc.info.title }} {{ doc.info.version }}</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 60rem; padding: 1rem 1.5rem; color: #1b1b1b; }
h1 { margin-bottom: .2rem; } h2 { border-bottom: 1px solid #ccc; margin-top: 2.5rem; }
.op { border: 1px solid #ddd; border-radius: 6px; margin: 1rem 0; padding: .6rem 1rem; }
.method { display: inline-block; min-width: 4.5rem; font-weight: 700; font-family: ui-monospace, monospace; }
.GET { color: #0b5394; } .POST { color: #1e7b34; } .PATCH, .PUT { color: #8a5a00; } .DELETE { color: #a61c00; }
code, .path { font-family: ui-monospace, monospace; font-size: .95em; }
table { border-collapse: collapse; margin: .4rem 0; } th, td { text-align: left; padding: .15rem .8rem .15rem 0; vertical-align: top; }
th { font-weight: 600; } .muted { color: #555; } nav a { margin-right: 1rem; }
</style>
</head>
<body>
<h1>{{ doc.info.title }}</h1>
<p class="muted">Version {{ doc.info.version }} · base URL <code>{{ doc.servers[0].url }}</code> ·
<a href="{{ doc.servers[0].url }}/openapi.json">openapi.json</a></p>
<p>{{ doc.info.description|code }} Every error is <code>application/problem+json</code> with a stable
<code>code</code>; listings are <code>{"data": [...], "next": url-or-null}</code>; a change needs
<code>If-Match</code> with the record's <code>ETag</code>; a creation may carry an <code>Idempotency-Key</code>.</p>
<nav>{% for tag in doc.tags %}<a href="#{{ tag.name }}">{{ tag.name }}</a>{% endfor %}</nav>
{% for tag in doc.tags %}
<h2 id="{{ tag.name }}">{{ tag.name }}</h2>
<p>{{ tag.description|code }}</p>
{% for path, methods in doc.paths.items() %}{% for method, op in methods.items() if tag.name in op.tags %}
<div class="op" id="{{ op.operationId }}">
<div><span class="method {{ method|upper }}">{{ method|upper }}</span> <span class="path">{{ path }}</span></div>
<p>{{ op.summary|code }}{% if op.get('x-permission') %} <span class="muted">(needs <code>{{ op['x-permission'] }}</code>)</span>{% endif %}</p>
{% if op.description %}<p>{{ op.description|code }}</p>{% endif %}
{% if op.parameters %}<table><tr><th>parameter</th><th>in</th><th>meaning</th></tr>
{% for p in op.parameters %}<tr><td><code>{{ p.name }}</code></td><td>{{ p['in'] }}</td><td>{{ p.description|code }}</td></tr>{% endfor %}
</table>{% endif %}
<p class="muted">Answers: {% for status in op.responses %}<code>{{ status }}</code> {% endfor %}</p>
</div>
{% endfor %}{% endfor %}
{% endfor %}
</body>
</html>
"""


def _code(text: Any) -> Markup:
    """The text escaped, its `backticked` spans (Markdown in the descriptions) shown as code."""
    parts = str(escape(text or "")).split("`")
    return Markup("".join(f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts)))


_environment = jinja2.Environment(autoescape=True)
_environment.filters["code"] = _code
_template = _environment.from_string(_PAGE)


def render_page(document: dict[str, Any]) -> str:
    return _template.render(doc=document)
