"""The room server's memory guard: a kernel starts only when it fits in the free memory.

``lepton app --room`` (apps/room_server.py) names :class:`GuardedKernelManager` as Voilà's
``VoilaConfiguration.multi_kernel_manager_class``; Voilà wraps it in its pooling manager, so preheated kernels go
through the same check. A refused start raises :class:`MemoryShort`, which the page handler
(apps/voila_app.py) turns into a sentence in the page.

Example:
    >>> MemoryShort(800, 1500).status_code
    503
"""

from __future__ import annotations

from typing import Optional

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from tornado.log import app_log
from traitlets import Float

from lepton_widgets.i18n import _


class MemoryShort(web.HTTPError):
    """A new kernel would not fit in the memory left: refused before it starts, not swapped in."""

    def __init__(self, free_mb: float, need_mb: float) -> None:
        super().__init__(503, "memory short: %.0f MB free, a kernel needs %.0f MB", free_mb, need_mb)
        self.free_mb, self.need_mb = free_mb, need_mb

    def words(self) -> str:
        return _("This computer is short of memory: about {free} MB is free and a workbench needs about {need} MB. "
                 "Wait a few minutes (pages closed or left idle free theirs) and reload, or tell your teacher."
                 ).format(free=int(self.free_mb), need=int(self.need_mb))


class GuardedKernelManager(AsyncMappingKernelManager):
    """Jupyter's kernel manager with a memory guard: a kernel starts only when ``kernel_memory_mb`` fits in the
    memory that is free (psutil's ``available``) after what the kernels already running are still expected to
    take; otherwise :class:`MemoryShort`. Voilà's preheated pool starts its kernels through here too, so the
    pool never grows past what fits.

    Each kernel is expected to grow to ``kernel_memory_mb`` (a workbench kernel with TensorFlow loaded and a
    small model trained: ``benchmarks/room_load.py`` measures it). A kernel still starting, or using less than
    that so far, keeps the difference reserved; one using more reserves nothing more.
    """

    kernel_memory_mb = Float(1500.0, config=True,
                             help="Memory one kernel is expected to need, in MB; 0 turns the guard off.")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._starting = 0

    def _kernel_rss_mb(self, kernel_id: str) -> Optional[float]:
        try:
            import psutil

            process = self.get_kernel(kernel_id).provisioner.process
            return psutil.Process(process.pid).memory_info().rss / 2**20
        except Exception:  # a kernel that just ended, or a provisioner without a local process
            return None

    def memory_check(self) -> Optional[MemoryShort]:
        """None when one more kernel fits, else the refusal (not raised)."""
        need = self.kernel_memory_mb
        if need <= 0:
            return None
        import psutil

        free = psutil.virtual_memory().available / 2**20
        reserved = need * self._starting
        for kernel_id in list(self.list_kernel_ids()):
            rss = self._kernel_rss_mb(kernel_id)
            reserved += need if rss is None else max(0.0, need - rss)
        if free - reserved < need:
            return MemoryShort(max(0.0, free - reserved), need)
        return None

    async def start_kernel(self, *args, **kwargs) -> str:
        refusal = self.memory_check()
        if refusal is not None:
            app_log.warning("Not starting a kernel: %s", refusal.log_message % refusal.args)
            raise refusal
        self._starting += 1
        try:
            return await super().start_kernel(*args, **kwargs)
        finally:
            self._starting -= 1
