//! The OpenAPI 3.1 description of the service, generated from the handlers' `#[utoipa::path]`
//! annotations, served at `GET /api/v1/openapi.json`. A test checks that every documented
//! operation is routed, so the description cannot drift from the router unnoticed.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The bearer API key scheme (`Authorization: Bearer sw_<id>_<secret>`).
struct ApiKeyScheme;

impl Modify for ApiKeyScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("sw_<id>_<secret>")
                    .description(Some("A per-tenant or operator API key (docs/serve.md)"))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "stormwatch serve", description = "Continuous multi-tenant detection of forged-token mail access: ingest, incidents, notifications (docs/serve.md)."),
    modifiers(&ApiKeyScheme),
    paths(
        super::api::healthz,
        super::api::readyz,
        super::api::metrics,
        super::api::ingest_handler,
        super::api::list_incidents,
        super::api::get_incident,
        super::api::set_status,
        super::api::list_detections,
        super::api::list_notifications,
        super::admin::list_rules,
        super::admin::put_rule,
        super::admin::delete_rule,
        super::admin::list_feeds,
        super::admin::put_feed,
        super::admin::delete_feed,
        super::admin::retro_hunt,
        super::admin::tenants,
        super::admin::list_keys,
        super::admin::create_key,
        super::admin::delete_key,
        super::admin::events,
        super::admin::notification_settings,
        super::admin::comment,
        super::admin::assignee,
    )
)]
pub struct ApiDoc;

/// The description as JSON.
pub fn json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
