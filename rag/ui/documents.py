"""The Documents tab: upload files, see what is indexed, remove a document.

The checks on uploaded files (names, suffixes, the uploads folder) are ``rag.service``'s, shared
with the HTTP API; here are the table, the report and Gradio's temporary files.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..service import UPLOAD_SUFFIXES, App, log_failure, readable_error, uploaded_file
from ..types import Document, IngestReport
from .render import escape_html

DOCUMENT_COLUMNS = ["Document", "Title", "Chars", "Origin"]
DOCUMENT_WIDTHS = ["28%", "44%", "10%", "18%"]


def render_ingest_report(report: IngestReport | None, rejected: Sequence[tuple[str, str]] = ()) -> str:
    """The upload result: the report summary and every rejected file with its reason."""
    from ..load import short_id

    parts = []
    if report is not None:
        parts.append(f'<p class="rag-report">{escape_html(report.summary())}</p>')
        changed = report.added + report.updated
        if changed:
            parts.append("<p>Indexed: " + ", ".join(f"<code>{escape_html(short_id(d))}</code>" for d in changed) + "</p>")
    if rejected:
        items = "".join(
            f"<li><code>{escape_html(name)}</code>: {escape_html(reason)}</li>" for name, reason in rejected
        )
        parts.append(f'<div class="rag-rejected"><strong>Not added:</strong><ul>{items}</ul></div>')
    return "".join(parts) or '<p class="rag-empty">No files.</p>'


def document_rows(documents: Sequence[Document], origins: dict[str, str], uploads_dir: Path) -> list[list[Any]]:
    """Rows of the Documents table: short id, title (or first line), length, and where it came from."""
    from ..load import display_title, short_id

    return [
        [short_id(d.doc_id), display_title(d), len(d.text),
         "upload" if uploaded_file(d, origins, uploads_dir) else Path(origins.get(d.doc_id, "")).name or "index"]
        for d in documents
    ]


def discard_temp_upload(path: str | Path) -> None:
    """Delete Gradio's temporary copy of an uploaded file (and its folder once empty), so it is
    not kept or served after it was ingested, rejected or removed. Paths outside Gradio's
    upload folder are never touched."""
    from gradio.utils import get_upload_folder

    folder = Path(get_upload_folder()).resolve()
    path = Path(str(path)).resolve()
    if not path.is_relative_to(folder) or path == folder:
        return
    path.unlink(missing_ok=True)
    if path.parent != folder:
        try:
            path.parent.rmdir()
        except OSError:
            pass  # not empty


class Documents:
    """The Documents tab's handlers over the shared ``App``."""

    def __init__(self, app: App):
        self.app = app

    def table(self):
        """(table rows, the remove list's choices)."""
        import gradio as gr
        from ..load import short_id

        docs, origins = self.app.catalogue()
        return (
            document_rows(docs, origins, self.app.uploads_dir),
            gr.update(choices=[(short_id(d.doc_id), d.doc_id) for d in docs], value=None),
        )

    def upload(self, files: list[str] | str | None, progress=None) -> tuple:
        """Copy uploads into the uploads folder and ingest it: (status, files, table, choices).

        The report counts only the files of this upload; Gradio's temporary copies are deleted.
        """
        paths = [files] if isinstance(files, str) else list(files or [])
        try:
            report, rejected = self.app.add_files(paths, progress)
        finally:
            for path in paths:
                discard_temp_upload(path)
        table, choices = self.table()
        return render_ingest_report(report, rejected), None, table, choices

    def remove(self, name: str | None) -> tuple:
        """Remove a document by id or name (and its uploaded file): (status, table, choices)."""
        from ..load import short_id

        if not name:
            table, choices = self.table()
            return '<p class="rag-empty">Choose a document to remove.</p>', table, choices
        try:
            removed, files = self.app.delete(name)
        except Exception as exc:
            log_failure(exc, f"removing {name!r}")
            status = f'<p class="rag-error">Could not remove {escape_html(name)}: {escape_html(readable_error(exc))}</p>'
        else:
            status = "<p>Removed " + ", ".join(f"<code>{escape_html(short_id(d))}</code>" for d in removed) + (
                " and its uploaded file." if files else ".") + "</p>"
        table, choices = self.table()
        return status, table, choices


def documents_tab(app: App, demo) -> Documents:
    """The Documents tab's components and events (inside a ``gr.Blocks``)."""
    import gradio as gr

    documents = Documents(app)
    gr.Markdown(f"Upload {', '.join(UPLOAD_SUFFIXES)} files to add them to the index. "
                "They are copied into the uploads folder next to the index.")
    files = gr.File(label="Upload documents", file_count="multiple", elem_id="rag-upload")
    status = gr.HTML(label="Status", elem_id="rag-upload-status", js_on_load=None)
    table = gr.Dataframe(headers=DOCUMENT_COLUMNS, datatype=["str", "str", "number", "str"],
                         interactive=False, label="Indexed documents", elem_id="rag-documents",
                         column_widths=DOCUMENT_WIDTHS, wrap=False)
    with gr.Row():
        doomed = gr.Dropdown(label="Document to remove", choices=[], elem_id="rag-remove-choice", scale=3,
                             allow_custom_value=True)
        remove = gr.Button("Remove document", variant="stop", scale=1, elem_id="rag-remove")
        refresh = gr.Button("Refresh list", scale=1, elem_id="rag-refresh")
        cancel = gr.Button("Cancel upload", scale=1, elem_id="rag-cancel-upload")

    def upload(paths, progress=gr.Progress()):
        return documents.upload(paths, progress)

    files.upload(upload, files, [status, files, table, doomed], api_name="upload",
                 api_description="Add .txt/.md/.html/.pdf/.docx/.pptx/.xlsx/.csv files to the index (other files are "
                                 "rejected with a reason).",
                 concurrency_limit=1, concurrency_id="index-write", show_progress_on=[status])
    remove.click(documents.remove, doomed, [status, table, doomed], api_name="remove",
                 api_description="Remove a document by id (and its uploaded file, if it is one).",
                 concurrency_limit=1, concurrency_id="index-write")
    # Not queued behind the upload (its own concurrency group): it only raises a flag the
    # ingest checks after each file and each embedded batch.
    cancel.click(app.cancel_ingest, None, None, api_name="cancel_upload", queue=False,
                 api_description="Stop the upload being ingested; the index stays as it was.")
    refresh.click(documents.table, None, [table, doomed], api_name="documents",
                  api_description="The table of indexed documents.")
    demo.load(documents.table, None, [table, doomed], api_visibility="private")
    return documents
