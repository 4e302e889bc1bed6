"""Jupyter server configuration for ``make serve`` (see scripts/serve.py).

Jupyter lets a token-authenticated request through from any origin: it
assumes that a page on another site cannot know the token. The live book
is stricter: a browser request that names another origin is refused even
with the token, so a leaked token alone does not let another site use the
kernel. Requests without an Origin header (scripts, the book's own
same-origin requests) are checked by the token alone, as usual.
"""

from jupyter_server.auth.identity import IdentityProvider


class OriginCheckingIdentityProvider(IdentityProvider):
    """Checks the Origin of every request, token-authenticated or not."""

    def should_check_origin(self, handler) -> bool:
        return True


c = get_config()  # noqa: F821 -- provided by Jupyter when it loads this file
c.ServerApp.identity_provider_class = OriginCheckingIdentityProvider
# The live book needs kernels only: no JupyterLab, language server, terminals.
c.ServerApp.jpserver_extensions = {
    name: False for name in ("jupyterlab", "jupyterlab_myst", "jupyter_lsp",
                             "jupyter_server_terminals", "notebook_shim")}
# A page stops its kernel when the reader leaves it; should that request be
# lost (a closed laptop, a crashed tab), a kernel with no page connected is
# stopped after ten idle minutes.
c.MappingKernelManager.cull_idle_timeout = 600
c.MappingKernelManager.cull_interval = 60
c.MappingKernelManager.cull_connected = False
