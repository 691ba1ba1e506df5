# JupyterHub with oauthenticator's GenericOAuthenticator, signing in through signin (issue 24).
#
# Run by tests/browser/test_oidc_jupyterhub.py with the hub's own virtualenv; every value that
# differs per run comes from the environment the test sets (OIDC_TEST_*). This is the
# configuration docs/oidc.md gives for JupyterHub, plus what a test needs: the hub answers on its
# own port (no configurable-http-proxy in front: `NoProxy`), a service token to read users, groups
# and auth state, and a short auth_refresh_age so that the hub checks its tokens during the test.
import os

from jupyterhub.proxy import Proxy

c = get_config()  # noqa: F821 (JupyterHub's config loader provides it)
signin = os.environ["OIDC_TEST_ISSUER"]
hub = os.environ["OIDC_TEST_HUB_URL"]
folder = os.environ["OIDC_TEST_FOLDER"]


class NoProxy(Proxy):
    """No proxy process: the browser talks to the hub's own port, which serves /hub/ itself."""

    should_start = False

    async def start(self):
        pass

    async def stop(self):
        pass

    async def add_route(self, routespec, target, data):
        pass

    async def delete_route(self, routespec):
        pass

    async def get_all_routes(self):
        return {}


c.JupyterHub.proxy_class = NoProxy
c.JupyterHub.bind_url = hub
c.JupyterHub.hub_bind_url = hub
c.JupyterHub.db_url = f"sqlite:///{folder}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{folder}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = f"{folder}/jupyterhub.pid"
c.JupyterHub.redirect_to_server = False  # after sign-in: the hub's home page, no spawn
c.JupyterHub.services = [{"name": "probe", "api_token": os.environ["OIDC_TEST_HUB_TOKEN"]}]
c.JupyterHub.load_roles = [
    {
        "name": "probe",
        "scopes": ["read:users", "read:groups", "admin:auth_state"],
        "services": ["probe"],
    }
]

c.JupyterHub.authenticator_class = "generic-oauth"
c.GenericOAuthenticator.login_service = "signin"
c.GenericOAuthenticator.client_id = "jupyterhub"
c.GenericOAuthenticator.client_secret = os.environ["OIDC_TEST_CLIENT_SECRET"]
c.GenericOAuthenticator.oauth_callback_url = f"{hub}/hub/oauth_callback"
c.GenericOAuthenticator.authorize_url = f"{signin}/oidc/authorize"
c.GenericOAuthenticator.token_url = f"{signin}/oidc/token"
c.GenericOAuthenticator.userdata_url = f"{signin}/oidc/userinfo"
c.GenericOAuthenticator.scope = ["openid", "profile", "email", "groups", "offline_access"]
c.GenericOAuthenticator.username_claim = "preferred_username"
c.GenericOAuthenticator.manage_groups = True
c.GenericOAuthenticator.auth_state_groups_key = "oauth_user.groups"
c.GenericOAuthenticator.allowed_groups = {"staff"}
c.GenericOAuthenticator.admin_groups = {"admins"}
c.GenericOAuthenticator.logout_redirect_url = (
    f"{signin}/oidc/logout?client_id=jupyterhub&post_logout_redirect_uri={hub}/hub/login"
)
c.Authenticator.enable_auth_state = True  # keeps the refresh token (JUPYTERHUB_CRYPT_KEY)
c.Authenticator.auth_refresh_age = 2
