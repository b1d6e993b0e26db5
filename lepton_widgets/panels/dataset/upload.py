"""The Data step's upload: a zip of images or sounds from the browser, saved on this machine and chosen as the
data (``dataset="zip"`` or ``"wav_zip"``, ``data_path=<file>``).

The largest upload is stated beside the button: above the websocket limit a browser upload is dropped without
any error (ipywidgets #2522, voila #807), so silence would otherwise be all the user gets.

Example:
    >>> from lepton_widgets.state import Session
    >>> view = UploadView(Session())
    >>> "Largest upload" in view.limit.value, view.message.value
    (True, '')
"""

from __future__ import annotations

import html

import ipywidgets as w

from lepton_widgets.core.data import DataError
from lepton_widgets.core.data.uploads import max_upload_mb, save_upload
from lepton_widgets.i18n import _
from lepton_widgets.panels.style import alert_box, ok_box


class UploadView:
    """The upload button, the size limit and what became of the last upload (:attr:`message`)."""

    def __init__(self, session):
        self.session = session
        self.upload = w.FileUpload(accept=".zip", multiple=False, description=_("Upload zip"))
        self._putting_back = False  # True while _uploaded puts the handled file's name back
        self.limit = w.HTML(html.escape(_("Largest upload: {size}. A bigger file is dropped by the browser connection "
                                          "without an error: copy it to this machine and enter its path "
                                          "instead.")).replace("{size}", f"<b>{max_upload_mb():g} MB</b>"))
        self.message = w.HTML()
        for widget, css in ((self.upload, "upload"), (self.limit, "upload-limit"), (self.message, "upload-message")):
            widget.add_class(f"lepton-{css}")
        self.upload.observe(self._uploaded, "value")

    def _uploaded(self, change) -> None:
        files = change["new"]
        if not files or self._putting_back:
            return  # the view cleared it, or is putting the handled upload's name back (below)
        entry = files[0]
        name = str(entry.get("name") or "upload.zip")
        content = entry.get("content")
        data = bytes(content) if content is not None else b""
        size = entry.get("size")
        self.upload.value = ()  # frees the bytes, and lets the same file be uploaded again
        try:
            path = save_upload(name, data, declared_size=int(size) if size is not None else None)
        except DataError as error:
            self.message.value = alert_box("<b>" + html.escape(_("Upload not used.")) + f"</b> {html.escape(str(error))}")
            return
        # The browser draws the button as "Upload zip (<files in value>)": an empty value read "(0)" right after
        # a good upload, as if nothing had arrived. Keep the file's name, without its bytes, so it reads "(1)".
        self._putting_back = True
        try:
            self.upload.value = ({**entry, "content": memoryview(b"")},)
        finally:
            self._putting_back = False
        # A zip of sounds when sounds were chosen, else a zip of images.
        kind = "wav_zip" if self.session.dataset in ("wav_folder", "wav_zip") else "zip"
        with self.session.hold_trait_notifications():
            self.session.dataset, self.session.data_path = kind, str(path)
        self.message.value = ok_box(_("Uploaded {name} ({size} MB), saved as {path}. Press {check} to validate "
                                      "it.").format(name=f"<b>{html.escape(name)}</b>", size=f"{len(data) / 2**20:.1f}",
                                                    path=f"<code>{html.escape(str(path))}</code>",
                                                    check="<b>" + html.escape(_("Check data")) + "</b>"))
