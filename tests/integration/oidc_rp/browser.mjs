// A user agent without JavaScript: fetch with a cookie jar, manual redirects, and HTML forms.
//
// It plays the person at the browser in tests/integration/test_oidc_rp.py: it opens the
// authorization URL the relying party built, fills signin's real /sign-in form (the plaintext
// password, as a no-JS browser sends it), accepts a consent page, and stops at the relying
// party's redirect_uri. Every hop is recorded so that the test can assert on the path taken.

const MAX_HOPS = 12;

export class CookieJar {
  constructor() {
    this.cookies = new Map();
  }

  store(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(";");
      const at = pair.indexOf("=");
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      const gone = attributes.some((a) => /^\s*max-age\s*=\s*(0|-\d+)\s*$/i.test(a));
      if (gone || value === "" || value === '""') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header() {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
  }

  has(name) {
    return this.cookies.has(name);
  }
}

const ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", "#39": "'", "#34": '"' };

export function unescapeHtml(text) {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name) => {
    const lower = name.toLowerCase();
    if (lower.startsWith("#x")) return String.fromCodePoint(parseInt(lower.slice(2), 16));
    if (lower.startsWith("#")) return String.fromCodePoint(parseInt(lower.slice(1), 10));
    return ENTITIES[lower] ?? whole;
  });
}

function attributes(tag) {
  const found = {};
  for (const m of tag.matchAll(/([a-zA-Z_:-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
    found[m[1].toLowerCase()] = unescapeHtml(m[2] ?? m[3] ?? m[4] ?? "");
  }
  return found;
}

/** Every <form> of a page: action, method, named fields (hidden and visible) and buttons. */
export function forms(html, pageUrl) {
  const out = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const form = attributes(m[1]);
    const fields = {};
    const buttons = [];
    for (const input of m[2].matchAll(/<(input|button|textarea|select)\b([^>]*)>/gi)) {
      const attrs = attributes(input[2]);
      const kind = (attrs.type ?? "").toLowerCase();
      if (input[1].toLowerCase() === "button" || kind === "submit") {
        if (attrs.name) buttons.push({ name: attrs.name, value: attrs.value ?? "" });
        continue;
      }
      if (!attrs.name) continue; // unnamed inputs are never submitted (the typed password)
      if ((kind === "checkbox" || kind === "radio") && !("checked" in attrs)) continue;
      fields[attrs.name] = attrs.value ?? "";
    }
    out.push({
      action: new URL(form.action || pageUrl, pageUrl).href,
      method: (form.method || "get").toLowerCase(),
      fields,
      buttons,
    });
  }
  return out;
}

export class Browser {
  constructor() {
    this.jar = new CookieJar();
    this.hops = [];
  }

  async request(url, init = {}) {
    const headers = { ...(init.headers ?? {}) };
    const cookie = this.jar.header();
    if (cookie) headers.cookie = cookie;
    const response = await fetch(url, { ...init, headers, redirect: "manual" });
    this.jar.store(response);
    const body = await response.text();
    const hop = { method: init.method ?? "GET", url, status: response.status };
    const location = response.headers.get("location");
    if (location) hop.location = new URL(location, url).href;
    this.hops.push(hop);
    return { response, body, location: hop.location, url };
  }

  async submit(form, extra = {}) {
    const body = new URLSearchParams({ ...form.fields, ...extra });
    if (form.method === "post") {
      return this.request(form.action, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body,
      });
    }
    const target = new URL(form.action);
    for (const [k, v] of body) target.searchParams.set(k, v);
    return this.request(target.href);
  }

  /**
   * Follow redirects and answer the pages on the way (`answer(page)` returns the next request's
   * promise, or null when the page is an end), until a URL for which `isEnd(url)` holds.
   * Returns {end: URL or Request, page} — a Request when the end came as a form POST.
   */
  async walk(start, isEnd, answer) {
    let page = await this.request(start);
    for (let hop = 0; hop < MAX_HOPS; hop++) {
      if (page.location) {
        if (isEnd(page.location)) return { end: new URL(page.location), page };
        page = await this.request(page.location);
        continue;
      }
      const posted = forms(page.body, page.url).find((f) => isEnd(f.action));
      if (posted && page.response.status === 200) {
        // response_mode=form_post: the page would post itself to the redirect_uri.
        const body = new URLSearchParams(posted.fields);
        return {
          end: new Request(posted.action, {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body,
          }),
          page,
          formPost: Object.fromEntries(body),
        };
      }
      const next = answer(page);
      if (!next) return { end: null, page };
      page = await next;
    }
    throw new Error(`more than ${MAX_HOPS} hops from ${start}`);
  }
}
