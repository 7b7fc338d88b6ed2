// Starts Swagger UI on latch's OpenAPI document. A file of its own, not an
// inline script, so that the page works under a CSP without 'unsafe-inline'.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/schema/",
    dom_id: "#swagger-ui",
    deepLinking: true,
    // The token pasted into "Authorize" lives in the page, not in
    // localStorage, where any script of latch's origin could read it (the
    // demo page keeps its token out of storage for the same reason).
    persistAuthorization: false,
    // Swagger UI would otherwise send the document to an online validator.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
