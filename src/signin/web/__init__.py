"""HTTP: pages, the JSON API, CSRF, security headers, error pages, client IP."""
