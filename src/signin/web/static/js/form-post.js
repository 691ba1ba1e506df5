// OAuth response_mode=form_post: send the answer on to the application at once.
// Without JavaScript the page's button does the same.
"use strict";
document.querySelectorAll("form[data-auto-submit]").forEach(function (form) {
  form.submit();
});
