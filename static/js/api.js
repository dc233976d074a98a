// fetch() with the session cookie, the CSRF header and JSON either way.

function cookie(name) {
  const match = document.cookie.match(new RegExp(`(?:^|; )${name}=([^;]*)`));
  return match ? decodeURIComponent(match[1]) : "";
}

/** Returns {ok, status, data}; never throws for HTTP errors, only network failures. */
export async function api(method, url, body) {
  const options = {
    method,
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  };
  if (method !== "GET") {
    options.headers["X-CSRFToken"] = cookie("csrftoken");
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body || {});
  }
  const response = await fetch(url, options);
  let data = null;
  try {
    data = await response.json();
  } catch (error) {
    data = { error: `The server answered ${response.status}.` };
  }
  if (response.status === 401) {
    location.assign(`/accounts/login/?next=${encodeURIComponent(location.pathname)}`);
  }
  return { ok: response.ok, status: response.status, data };
}
