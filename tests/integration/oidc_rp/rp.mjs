// A relying party built on openid-client (OpenID-certified), run against a real `signin serve`.
//
//     node rp.mjs SCENARIO.json      (prints one JSON report on stdout)
//
// SCENARIO: {issuer, client: {id, secret?, auth}, redirect_uri, post_logout_redirect_uri,
// scope, username, password, response_mode?, second_factor_codes?} (recovery codes, one used
// at each second step signin asks for). The RP discovers signin, sends the person (a
// cookie-jar browser, browser.mjs) through signin's real sign-in page, exchanges the code with
// PKCE (S256), and lets openid-client check the ID token (signature against the JWKS, nonce,
// iss, aud, exp). Then UserInfo, refresh (rotation and reuse detection), introspection,
// revocation, a silent second authorization, prompt=login, and RP-initiated logout.
// Nothing here decides pass or fail: the report carries every answer and the pytest asserts.

import * as client from "openid-client";
import * as jose from "jose";
import { readFileSync } from "node:fs";
import { Browser, forms } from "./browser.mjs";

const scenario = JSON.parse(readFileSync(process.argv[2], "utf8"));
const report = { steps: [] };

function described(error) {
  return {
    name: error?.name,
    message: String(error?.message ?? error),
    code: error?.code,
    error: error?.error ?? error?.cause?.error,
    error_description: error?.error_description ?? error?.cause?.error_description,
    status: error?.status ?? error?.response?.status,
  };
}

/** Run `fn`; an expected failure is returned as {refused: described error}. */
async function refusal(fn) {
  try {
    return { accepted: await fn() };
  } catch (error) {
    return { refused: described(error) };
  }
}

function auth(c) {
  if (c.auth === "client_secret_basic") return client.ClientSecretBasic(c.secret);
  if (c.auth === "client_secret_post") return client.ClientSecretPost(c.secret);
  return client.None();
}

/** The person's answers on the way: sign in on /sign-in, allow on a consent page. */
function person(browser, seen) {
  return (page) => {
    const path = new URL(page.url).pathname;
    const found = forms(page.body, page.url);
    const signIn = found.find((f) => new URL(f.action).pathname === "/sign-in");
    if (signIn && "username" in signIn.fields) {
      seen.sign_in = (seen.sign_in ?? 0) + 1;
      return browser.submit(signIn, {
        username: scenario.username,
        password: scenario.password,
      });
    }
    const second = found.find((f) => new URL(f.action).pathname === "/sign-in/two-factor");
    if (second && "code" in second.fields) {
      seen.second_factor = (seen.second_factor ?? 0) + 1;
      const code = (scenario.second_factor_codes ?? []).shift();
      if (!code) {
        seen.stuck = { path, status: page.response.status, body: "no second-factor code left" };
        return null;
      }
      return browser.submit(second, { code });
    }
    const consent = found.find((f) => new URL(f.action).pathname.startsWith("/oidc/"));
    if (consent && page.response.status === 200) {
      seen.consent = (seen.consent ?? 0) + 1;
      seen.consent_page = page.body.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").slice(0, 2000);
      const allow = consent.buttons.find((b) => /allow|accept|yes|approve|consent/i.test(`${b.name} ${b.value}`));
      return browser.submit(consent, allow ? { [allow.name]: allow.value } : {});
    }
    seen.stuck = { path, status: page.response.status, body: page.body.slice(0, 1500) };
    return null;
  };
}

const atRedirect = (url) => url.startsWith(scenario.redirect_uri);

/** One authorization: build the URL, walk the browser to the redirect_uri, exchange the code. */
async function authorize(config, browser, extra = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const state = client.randomState();
  const params = {
    redirect_uri: scenario.redirect_uri,
    scope: scenario.scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
    ...(scenario.response_mode ? { response_mode: scenario.response_mode } : {}),
    ...extra,
  };
  const url = client.buildAuthorizationUrl(config, params);
  const seen = { url: url.href };
  const start = browser.hops.length;
  const walked = await browser.walk(url.href, atRedirect, person(browser, seen));
  seen.hops = browser.hops.slice(start);
  if (!walked.end) return { seen };
  seen.callback = walked.formPost ?? Object.fromEntries(walked.end.searchParams ?? []);
  seen.callback_via = walked.formPost ? "form_post" : "query";
  if (seen.callback.error) return { seen };
  const tokens = await client.authorizationCodeGrant(config, walked.end, {
    pkceCodeVerifier: verifier,
    expectedNonce: nonce,
    expectedState: state,
    idTokenExpected: true,
  });
  return { seen, tokens };
}

function tokenSummary(tokens) {
  return {
    token_type: tokens.token_type,
    expires_in: tokens.expires_in,
    scope: tokens.scope,
    has_refresh_token: Boolean(tokens.refresh_token),
    has_id_token: Boolean(tokens.id_token),
    id_token_header: tokens.id_token ? jose.decodeProtectedHeader(tokens.id_token) : null,
    claims: tokens.claims() ?? null,
  };
}

/** The ID token checked once more by jose against the JWKS, and a forged copy refused. */
async function jwksCheck(config, idToken) {
  const meta = config.serverMetadata();
  const jwks = jose.createRemoteJWKSet(new URL(meta.jwks_uri));
  const verified = await jose.jwtVerify(idToken, jwks, {
    issuer: meta.issuer,
    audience: scenario.client.id,
  });
  const [head, body, sig] = idToken.split(".");
  const claims = JSON.parse(Buffer.from(body, "base64url"));
  claims.sub = `${claims.sub}x`;
  const forged = [head, Buffer.from(JSON.stringify(claims)).toString("base64url"), sig].join(".");
  const forgedResult = await refusal(() => jose.jwtVerify(forged, jwks, { issuer: meta.issuer }));
  const keys = await (await fetch(meta.jwks_uri)).json();
  return {
    alg: verified.protectedHeader.alg,
    kid: verified.protectedHeader.kid,
    forged_refused: Boolean(forgedResult.refused),
    jwks: keys.keys.map((k) => ({ kid: k.kid, kty: k.kty, alg: k.alg, use: k.use, private: "d" in k })),
  };
}

async function run() {
  const c = scenario.client;
  const issuer = new URL(scenario.issuer);
  const config = await client.discovery(
    issuer,
    c.id,
    { redirect_uris: [scenario.redirect_uri], token_endpoint_auth_method: c.auth },
    auth(c),
    { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] },
  );
  report.discovery = config.serverMetadata();
  report.steps.push("discovery");
  const browser = new Browser();

  const first = await authorize(config, browser);
  report.first = { ...first.seen, ...(first.tokens ? tokenSummary(first.tokens) : {}) };
  if (!first.tokens) return;
  report.steps.push("code");
  const tokens = first.tokens;
  const sub = tokens.claims().sub;
  report.jwks_check = await jwksCheck(config, tokens.id_token);
  report.steps.push("jwks");

  report.userinfo = await client.fetchUserInfo(config, tokens.access_token, sub);
  report.steps.push("userinfo");

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  report.refresh = tokenSummary(refreshed);
  report.refresh.rotated = Boolean(refreshed.refresh_token) && refreshed.refresh_token !== tokens.refresh_token;
  report.refresh.userinfo = await client.fetchUserInfo(config, refreshed.access_token, sub);
  report.steps.push("refresh");

  // Reuse detection: the first refresh token again is refused, and it takes its successor down.
  report.reuse = {
    old: await refusal(() => client.refreshTokenGrant(config, tokens.refresh_token)),
    successor: await refusal(() => client.refreshTokenGrant(config, refreshed.refresh_token)),
  };
  report.steps.push("reuse");

  // A second authorization in the same browser session: no sign-in page (prompt=none).
  const second = await authorize(config, browser, { prompt: "none" });
  report.second = { ...second.seen, ...(second.tokens ? tokenSummary(second.tokens) : {}) };
  if (!second.tokens) return;
  report.steps.push("silent");
  const live = second.tokens;

  if (c.auth !== "none") {
    report.introspect_before = await client.tokenIntrospection(config, live.access_token);
  }
  await client.tokenRevocation(config, live.access_token);
  report.userinfo_after_revoke = await refusal(() => client.fetchUserInfo(config, live.access_token, sub));
  if (c.auth !== "none") {
    report.introspect_after = await client.tokenIntrospection(config, live.access_token);
  }
  await client.tokenRevocation(config, live.refresh_token);
  report.refresh_after_revoke = await refusal(() => client.refreshTokenGrant(config, live.refresh_token));
  report.steps.push("revoke");

  // prompt=login: the sign-in page again, even with a live session.
  const third = await authorize(config, browser, { prompt: "login" });
  report.third = { ...third.seen, ...(third.tokens ? tokenSummary(third.tokens) : {}) };
  if (!third.tokens) return;
  report.steps.push("prompt_login");

  // RP-initiated logout, then the session is gone: prompt=none answers login_required.
  const logoutState = client.randomState();
  const endSession = client.buildEndSessionUrl(config, {
    id_token_hint: third.tokens.id_token,
    post_logout_redirect_uri: scenario.post_logout_redirect_uri,
    state: logoutState,
  });
  const start = browser.hops.length;
  const seen = {};
  const walked = await browser.walk(
    endSession.href,
    (url) => url.startsWith(scenario.post_logout_redirect_uri),
    (page) => {
      const form = forms(page.body, page.url).find((f) => new URL(f.action).pathname === "/oidc/logout");
      if (!form || page.response.status !== 200) {
        seen.stuck = { url: page.url, status: page.response.status, body: page.body.slice(0, 1500) };
        return null;
      }
      seen.confirm = true;
      return browser.submit(form, form.buttons[0] ? { [form.buttons[0].name]: form.buttons[0].value } : {});
    },
  );
  report.logout = {
    ...seen,
    url: endSession.href,
    expected_state: logoutState,
    landed: walked.end ? walked.end.href : null,
    hops: browser.hops.slice(start),
  };
  const check = await browser.request(new URL("/api/v1/session", issuer).href);
  report.logout.session_check = check.response.status;
  const after = await authorize(config, browser, { prompt: "none" });
  report.after_logout = after.seen;
  report.steps.push("logout");
}

try {
  await run();
} catch (error) {
  report.failed = described(error);
  report.failed.stack = String(error?.stack ?? "").split("\n").slice(0, 6).join("\n");
}
process.stdout.write(JSON.stringify(report));
