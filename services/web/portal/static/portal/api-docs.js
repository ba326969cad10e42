// The gateway's API reference (/api/docs/): Swagger UI with a selector for the four APIs.
// The list of schemas comes from the page's <script type="application/json" id="api-specs">
// (the page runs no inline script; its Content-Security-Policy allows none).
"use strict";

(() => {
  const specs = JSON.parse(document.getElementById("api-specs").textContent);
  window.ui = SwaggerUIBundle({
    urls: specs,
    "urls.primaryName": specs[0].name,
    dom_id: "#swagger-ui",
    deepLinking: true,
    // No call to swagger.io's online validator: everything stays on this origin.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout",
  });
})();
